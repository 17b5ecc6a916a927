export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Resolves once everything written to stdout has been handed to the kernel, however slowly the reader reads. */
export function drainStdout(): Promise<void> {
  return new Promise((resolve) => {
    // an empty write's callback runs after every earlier write; EPIPE (reader gone) resolves too
    process.stdout.once('error', () => resolve());
    process.stdout.write('', () => resolve());
  });
}
