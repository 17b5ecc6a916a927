/** ip printed something that is not what it prints: returned, never thrown, so a caller decides (fail closed). */
export class ParseError extends Error {
  override name = 'ParseError';
}
