import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { NETNS_DIR } from '../host/named-namespaces.js';

/** Names that ip's batch parser reads back as one word: anything else is never fed to it. */
export const SAFE_NETNS_NAME = /^[A-Za-z0-9._@:+-]{1,255}$/;

/**
 * Which batch line each error belongs to: with -force, ip prints the command's own error lines, then
 * `Command failed -:LINE`. Returns line number (1-based) -> the error text.
 */
export function attributeBatchErrors(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)\s*$/.exec(line);
    if (m) {
      out.set(Number(m[1]), pending.join('; ') || 'failed');
      pending = [];
    } else if (line.trim() !== '') {
      pending.push(line.trim());
    }
  }
  return out;
}

const SENTINEL = 'link show dev lo';
const SENTINEL_OUT = /^\d+: lo[:@]/gm;

/**
 * One long-lived `ip -o -force -batch -`, fed a few `netns del` lines at a time: deleting in small verified
 * batches keeps the single batch's speed without a process per batch (~20 ms each). After each batch a
 * `link show dev lo` line is echoed on stdout: when it arrives, every line before it has run.
 */
export class NamespaceDeleter {
  private readonly child: ChildProcess;
  private line = 0;
  private stderr = '';
  private sentinels = 0;
  private wake: (() => void) | null = null;
  private exited: string | null = null;

  constructor(
    private readonly dir = NETNS_DIR,
    private readonly batchTimeoutMs = 30_000,
  ) {
    this.child = spawn('ip', ['-o', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.sentinels += (d.match(SENTINEL_OUT) ?? []).length;
      this.wake?.();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.on('error', (err) => this.onExit(`ip could not run: ${err.message}`));
    this.child.on('exit', (code, signal) => this.onExit(`ip -batch exited ${code ?? signal}`));
    this.child.stdin!.on('error', () => undefined); // EPIPE after an exit is reported through onExit
  }

  private onExit(reason: string): void {
    this.exited ??= reason;
    this.wake?.();
  }

  /** Per name: null when it is gone, else the error ip printed for exactly that name's line. */
  async delete(names: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (names.length === 0) return out;
    const first = this.line + 1;
    const want = this.sentinels + 1;
    if (!this.exited) this.child.stdin!.write(names.map((n) => `netns del ${n}\n`).join('') + `${SENTINEL}\n`);
    this.line += names.length + 1;
    const deadline = setTimeout(() => this.onExit(`ip -batch did not answer within ${this.batchTimeoutMs} ms`), this.batchTimeoutMs);
    while (this.sentinels < want && !this.exited) await new Promise<void>((r) => (this.wake = r));
    clearTimeout(deadline);
    this.wake = null;
    await new Promise((r) => setImmediate(r)); // stderr of the same lines may come one read later than stdout
    const errors = attributeBatchErrors(this.stderr);
    names.forEach((n, i) => {
      const gone = !existsSync(`${this.dir}/${n}`);
      out.set(n, gone ? null : (errors.get(first + i) ?? this.exited ?? 'still present after netns del'));
    });
    return out;
  }

  close(): void {
    this.child.stdin!.end();
    if (this.exited === null) setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
  }
}
