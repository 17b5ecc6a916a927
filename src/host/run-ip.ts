/** What a finished child said. */
export interface RunResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * A child process through execa, loaded on first use: execa costs 16 MB of RSS, and serve's hot path runs no child
 * at all. `reject` (default true) throws on a non-zero exit or a timeout, as execa does.
 */
export async function run(file: string, args: string[], opts: { timeout: number; reject?: boolean; input?: string }): Promise<RunResult> {
  const { execa } = await import('execa');
  const r = await execa(file, args, { timeout: opts.timeout, reject: opts.reject ?? true, ...(opts.input !== undefined ? { input: opts.input } : {}) });
  return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}
