import { existsSync } from 'node:fs';
import { run } from './run-ip.js';

/**
 * What Node cannot ask the kernel itself (no pidfd_getfd), asked by one short python3 process for all fds at once:
 * which network namespace each attached tun fd's device lives in, and which each socket lives in. Read-only: the
 * copies of the fds are closed at once, nothing is signalled or changed. One socket vmgate placed (SIOCGSKNS) costs
 * microseconds; listing a namespace's own sockets instead (setns + /proc/net/tcp) cost 2.5 ms per namespace here,
 * since /proc/net/tcp walks the host-wide hash table.
 */
const PROBE = String.raw`
import ctypes, fcntl, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
IOCTL = {'tun': 0x54e3, 'sock': 0x894c}  # TUNGETDEVNETNS, SIOCGSKNS
pidfds = {}
def pidfd(pid):
    if pid not in pidfds:
        try:
            pidfds[pid] = os.pidfd_open(pid)
        except OSError as e:
            pidfds[pid] = e
    return pidfds[pid]
def place(pid, fd, kind):
    pf = pidfd(pid)
    if isinstance(pf, OSError):
        return None, 'gone' if pf.errno == 3 else pf.strerror
    copy = libc.syscall(438, pf, fd, 0)
    if copy < 0:
        e = ctypes.get_errno()
        return None, 'gone' if e in (3, 9) else os.strerror(e)
    try:
        ns = fcntl.ioctl(copy, IOCTL[kind])
        try:
            return os.fstat(ns).st_ino, None
        finally:
            os.close(ns)
    except OSError as e:
        return None, e.strerror
    finally:
        os.close(copy)
req = json.load(sys.stdin)
out = []
for kind, pid, fd in req:
    ino, e = place(pid, fd, kind)
    out.append([ino, e])
sys.stdout.write(json.dumps(out))
`;

/** The system python3 when there is one (a version manager's shim on PATH costs 0.4 s a start), else PATH's. */
export function python3(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface FdPlace {
  /** tun: an attached /dev/net/tun fd (its device's namespace); sock: a socket (the namespace it lives in) */
  kind: 'tun' | 'sock';
  pid: number;
  fd: number;
  /** the inode of the namespace; null: not placed (see error) */
  netnsInode: number | null;
  /** 'gone' when the process or fd went away meanwhile */
  error?: string;
}

/**
 * Places each fd in the network namespace its object lives in, through a copy of it (pidfd_getfd): a tun fd by its
 * device (TUNGETDEVNETNS), a socket by its own namespace (SIOCGSKNS). `error` set: the probe could not run at all.
 */
export async function placeFds(fds: { kind: 'tun' | 'sock'; pid: number; fd: number }[], timeoutMs = 10_000): Promise<{ places: FdPlace[]; error?: string }> {
  if (fds.length === 0) return { places: [] };
  const input = JSON.stringify(fds.map((f) => [f.kind, f.pid, f.fd]));
  const r = await run(python3(), ['-c', PROBE], { input, timeout: timeoutMs, reject: false });
  if (r.exitCode !== 0)
    return { places: [], error: `python3 fd probe ${r.exitCode === undefined ? 'did not finish' : `failed: ${firstLine(r.stderr) || `exit ${r.exitCode}`}`}` };
  try {
    const out = JSON.parse(r.stdout) as [number | null, string | null][];
    if (out.length !== fds.length) throw new Error(`${out.length} answers to ${fds.length} questions`);
    return { places: fds.map((f, i) => ({ ...f, netnsInode: out[i]![0], ...(out[i]![1] ? { error: out[i]![1] } : {}) })) };
  } catch (err) {
    return { places: [], error: `python3 fd probe printed something that is not its answer: ${(err as Error).message}` };
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}
