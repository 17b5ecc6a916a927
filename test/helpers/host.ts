import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, describe } from 'vitest';

export const IS_ROOT = process.getuid?.() === 0;
const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
export const CLI = new URL('../../dist/src/cli/bin.js', import.meta.url).pathname;

/**
 * Host tests need root and real namespaces. Without root they skip loudly; under CI a skip is a failure.
 */
export function describeHost(name: string, fn: () => void): void {
  if (!IS_ROOT) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        throw new Error(`host test "${name}" needs root, and CI=true: run the suite as root`);
      });
      return;
    }
    process.stderr.write(`\n!!! SKIPPED host test "${name}": needs root (run 'sudo npm test')\n\n`);
    describe.skip(name, fn);
    return;
  }
  describe(name, fn);
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await execa('node', [CLI, ...args], {
    reject: false,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    extendEnv: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** vmgate run under a wrapper that changes what it can see (setpriv, unshare): `prefix` comes before `node`. */
export async function runCliVia(prefix: string[], args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const r = await execa(prefix[0]!, [...prefix.slice(1), 'node', CLI, ...args], {
    reject: false,
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    extendEnv: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  }
}

async function waitForLine(child: ChildProcess, want: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no '${want}' from ${child.spawnargs.join(' ')}: ${buf}`)), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(want)) {
        clearTimeout(timer);
        resolve();
      } else if (buf.includes('error')) {
        clearTimeout(timer);
        reject(new Error(buf.trim()));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.spawnargs.join(' ')} exited ${code}: ${buf}`));
    });
  });
}

/**
 * Real slots for one test file: namespaces named `vgtest-<id>-*`, processes it started, all removed in afterAll
 * (and by the global teardown if a run dies). `pattern` scopes vmgate to exactly this file's namespaces.
 */
export class HostSandbox {
  readonly id = randomBytes(3).toString('hex');
  readonly prefix = `vgtest-${this.id}-`;
  readonly pattern = `^vgtest-${this.id}-`;
  /** an orchestrator name no other test uses, so parallel files do not see each other's fake orchestrators */
  readonly orchestratorComm = `vgorch${this.id}`;
  private readonly children = new Set<ChildProcess>();

  constructor() {
    afterAll(() => this.destroy());
  }

  /** Common flags: scope to this sandbox. */
  flags(...extra: string[]): string[] {
    return ['--netns-pattern', this.pattern, '--orchestrator-comm', this.orchestratorComm, ...extra];
  }

  ns(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** A slot as the orchestrator makes it: namespace, tap0 (up unless told), and a veth pair to the host. */
  async slot(name: string, opts: { tap?: boolean; up?: boolean; veth?: boolean; tapName?: string } = {}): Promise<string> {
    const ns = this.ns(name);
    const tap = opts.tapName ?? 'tap0';
    const lines = [`netns add ${ns}`];
    if (opts.tap !== false) {
      const tmp = `vgt${randomBytes(4).toString('hex')}`;
      lines.push(`tuntap add dev ${tmp} mode tap`, `link set ${tmp} netns ${ns} name ${tap}`);
    }
    if (opts.veth !== false) {
      lines.push(`link add vgv${randomBytes(4).toString('hex')} type veth peer name eth0 netns ${ns}`);
    }
    await ipBatch(lines);
    // moving a link into a namespace sets it down, and ip -batch has no per-line -n
    if (opts.tap !== false && opts.up !== false) await execa('ip', ['-n', ns, 'link', 'set', tap, 'up']);
    return ns;
  }

  /** Ends this child in afterAll too. */
  adopt(child: ChildProcess): ChildProcess {
    return this.track(child);
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** A real process attached to the tap (TUNSETIFF), running inside the namespace, as a VMM does. */
  async holder(ns: string, opts: { tap?: string; comm?: string; listen?: string; fork?: boolean } = {}): Promise<ChildProcess> {
    const args = ['netns', 'exec', ns, 'python3', `${FIXTURES}tap-holder.py`, opts.tap ?? 'tap0', opts.comm ?? 'firecracker'];
    if (opts.listen) args.push(`--listen=${opts.listen}`);
    // a child that inherits the attached fd: two holders of one tap
    if (opts.fork) args.push('--fork');
    const child = this.track(spawn('ip', args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    await waitForLine(child, 'attached');
    return child;
  }

  /** A VMM stand-in whose worker thread (not its main thread) entered the namespace and attached the tap. */
  async threadHolder(ns: string, opts: { tap?: string; zombieLeader?: boolean } = {}): Promise<ChildProcess> {
    const args = [`${FIXTURES}thread-holder.py`, ns, opts.tap ?? 'tap0', ...(opts.zombieLeader ? ['zombie'] : [])];
    const child = this.track(spawn('python3', args, { stdio: ['ignore', 'pipe', 'inherit'] }));
    await waitForLine(child, 'attached');
    return child;
  }

  /** Any command, ended in afterAll; resolves once it printed `ready`. */
  async command(cmd: string[], ready = 'ready'): Promise<ChildProcess> {
    const child = this.track(spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }));
    await waitForLine(child, ready);
    return child;
  }

  /** A process with a given name, inside a namespace or (ns null) in the host namespace. */
  async process(ns: string | null, comm: string): Promise<ChildProcess> {
    const cmd = ['python3', `${FIXTURES}named-process.py`, comm];
    const child = this.track(
      ns
        ? spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'] })
        : spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    await waitForLine(child, 'ready');
    return child;
  }

  async stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** By the directory, not `ip netns list` (which hangs on a FIFO there, as one test puts). */
  exists(ns: string): Promise<boolean> {
    return Promise.resolve(existsSync(`/run/netns/${ns}`));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
    await removeNamespaces(this.prefix);
  }
}

export async function ipBatch(lines: string[]): Promise<void> {
  await execa('ip', ['-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Deletes every namespace whose name starts with prefix (only ever called with a vgtest- prefix). */
export async function removeNamespaces(prefix: string): Promise<void> {
  if (!prefix.startsWith('vgtest-')) throw new Error(`refusing to remove namespaces outside vgtest-*: ${prefix}`);
  let all: string[] = [];
  try {
    all = readdirSync('/run/netns');
  } catch {
    return; // a fresh host: nothing to remove
  }
  const names = all.filter((n) => n.startsWith(prefix));
  if (names.length > 0)
    await execa('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n', reject: false, timeout: 60_000 });
  // what ip could not delete (a FIFO or plain file a test left): unlink it
  for (const n of names) rmSync(`/run/netns/${n}`, { force: true });
}
