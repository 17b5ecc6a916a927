import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, type HostSandbox } from './host.js';
import { contractViolation } from './contract.js';

export interface Served {
  url: string;
  child: ChildProcess;
  logs: () => any[];
  /** exit code, signal and stderr so far: for failure messages */
  describe: () => string;
  /** SIGTERM and wait for the exit code */
  stop: () => Promise<number | null>;
}

/** Starts `vmgate serve` on a free loopback port, scoped to the sandbox; resolves once /healthz says 200. */
export async function startServe(box: HostSandbox, ...extra: string[]): Promise<Served> {
  return startServeWith(box, [], ...extra);
}

/** The same under a wrapper command (e.g. `unshare -m ...`) and with extra environment. */
export async function startServeWith(box: HostSandbox, prefix: string[], ...extra: string[]): Promise<Served> {
  const argv = [...prefix, 'node', CLI, 'serve', '--listen', '127.0.0.1:0', ...box.flags(...extra)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  box.adopt(child);
  let err = '';
  let ended = 'still running';
  child.once('exit', (code, signal) => (ended = `exited with code ${code} signal ${signal}`));
  const describe = () => `vmgate serve ${ended}; stderr:\n${err.trim()}`;
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 10_000);
    const look = () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(t);
        child.stderr.off('data', look);
        resolve(Number(m[1]));
      }
    };
    child.stderr.on('data', look);
    child.once('exit', (code, signal) => reject(new Error(`serve exited with code ${code} signal ${signal} before listening: ${err}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  let healthy = false;
  for (let i = 0; i < 400 && !healthy; i++) {
    const r = await fetch(`${url}/healthz`).catch(() => null);
    healthy = r?.status === 200;
    if (!healthy) await new Promise((r) => setTimeout(r, 25));
  }
  if (!healthy) throw new Error(`serve never became healthy: ${describe()}`);
  // healthy is the watcher; the first evaluation of the host may still be running (answers say 'starting' then):
  // tests start from a gate that has looked at the host once
  let evaluated = false;
  for (let i = 0; i < 600 && !evaluated; i++) {
    const r = await fetch(`${url}/ready-for-vm`).catch(() => null);
    evaluated = r !== null && ((await r.json().catch(() => null)) as { reason?: string } | null)?.reason !== 'starting';
    if (!evaluated) await new Promise((r) => setTimeout(r, 25));
  }
  if (!evaluated) throw new Error(`serve never finished its first look at the host: ${describe()}`);
  return {
    url,
    child,
    describe,
    logs: () =>
      err
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? -1 : null))));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** GET from the gate; every answer on a path of the contract is held to it (test/helpers/contract.ts). */
export async function get(url: string, init?: RequestInit): Promise<{ status: number; body: any; text: string; type: string | null }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* text */
  }
  const type = r.headers.get('content-type');
  if ((init?.method ?? 'GET') === 'GET') {
    const broken = contractViolation(new URL(url).pathname, r.status, type, body);
    if (broken) throw new Error(`the gate broke its contract (openapi.json): ${broken}`);
  }
  return { status: r.status, body, text, type };
}
