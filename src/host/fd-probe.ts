import { existsSync } from 'node:fs';
import { run } from './run-ip.js';

/**
 * What Node cannot ask the kernel itself (no pidfd_getfd, no setns), asked by one short python3 process for all
 * at once: which namespace each attached tun fd's device lives in (pidfd_getfd + TUNGETDEVNETNS), and which
 * sockets live in given namespaces (setns, then /proc/thread-self/net/*). Read-only: copies of fds are closed at
 * once, nothing is signalled or changed.
 */
const PROBE = String.raw`
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
TUNGETDEVNETNS = 0x54e3
CLONE_NEWNET = 0x40000000
NET_FILES = {'tcp': 9, 'tcp6': 9, 'udp': 9, 'udp6': 9, 'udplite': 9, 'udplite6': 9, 'raw': 9, 'raw6': 9,
             'icmp': 9, 'icmp6': 9, 'unix': 6, 'packet': 8, 'netlink': 9}
def err(e): return getattr(e, 'strerror', None) or str(e)
def place(pid, fd):
    try:
        pidfd = os.pidfd_open(pid)
    except OSError as e:
        return None, 'gone' if e.errno == 3 else err(e)
    try:
        copy = libc.syscall(438, pidfd, fd, 0)
        if copy < 0:
            e = ctypes.get_errno()
            return None, 'gone' if e in (3, 9) else os.strerror(e)
        try:
            import fcntl
            ns = fcntl.ioctl(copy, TUNGETDEVNETNS)
            try:
                return os.fstat(ns).st_ino, None
            finally:
                os.close(ns)
        except OSError as e:
            return None, err(e)
        finally:
            os.close(copy)
    finally:
        os.close(pidfd)
def sockets(path, home):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    finally:
        os.close(fd)
    try:
        out = []
        for name, col in NET_FILES.items():
            try:
                with open('/proc/thread-self/net/' + name) as f:
                    lines = f.read().split('\n')[1:]
            except FileNotFoundError:
                continue
            for line in lines:
                cols = line.split()
                if len(cols) > col and cols[col].isdigit() and cols[col] != '0':
                    out.append(int(cols[col]))
        return out
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            sys.exit(3)
req = json.load(sys.stdin)
res = {'tun': [], 'sockets': {}}
for pid, fd in req.get('tun', []):
    ino, e = place(pid, fd)
    res['tun'].append([pid, fd, ino, e])
home = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
for path in req.get('sockets', []):
    try:
        res['sockets'][path] = sockets(path, home)
    except OSError as e:
        res['sockets'][path] = err(e)
sys.stdout.write(json.dumps(res))
`;

/** The system python3 when there is one (a version manager's shim on PATH costs 0.4 s a start), else PATH's. */
export function python3(): string {
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface TunPlace {
  pid: number;
  fd: number;
  /** the inode of the namespace the tun device lives in; null: not placed (see error) */
  netnsInode: number | null;
  /** 'gone' when the process or fd went away meanwhile */
  error?: string;
}

export interface ProbeResult {
  tun: TunPlace[];
  /** per namespace path: inodes of the sockets living in it, or why they could not be read */
  sockets: Map<string, number[] | string>;
  /** the probe itself could not run (python3 missing, timeout, bad output): nothing it was asked is known */
  error?: string;
}

export async function probeFds(tun: { pid: number; fd: number }[], socketPaths: string[], timeoutMs = 10_000): Promise<ProbeResult> {
  const empty: ProbeResult = { tun: [], sockets: new Map() };
  if (tun.length === 0 && socketPaths.length === 0) return empty;
  const input = JSON.stringify({ tun: tun.map((t) => [t.pid, t.fd]), sockets: socketPaths });
  const r = await run(python3(), ['-c', PROBE], { input, timeout: timeoutMs, reject: false });
  if (r.exitCode !== 0)
    return { ...empty, error: `python3 fd probe ${r.exitCode === undefined ? 'did not finish' : `failed: ${firstLine(r.stderr) || `exit ${r.exitCode}`}`}` };
  try {
    const out = JSON.parse(r.stdout) as { tun: [number, number, number | null, string | null][]; sockets: Record<string, number[] | string> };
    return {
      tun: out.tun.map(([pid, fd, ino, e]) => ({ pid, fd, netnsInode: ino, ...(e ? { error: e } : {}) })),
      sockets: new Map(Object.entries(out.sockets)),
    };
  } catch (err) {
    return { ...empty, error: `python3 fd probe printed something that is not its answer: ${(err as Error).message}` };
  }
}

function firstLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}
