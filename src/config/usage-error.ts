/** A bad flag, value or environment variable: printed as one line, exit code 2, nothing changed. */
export class UsageError extends Error {
  override name = 'UsageError';
}
