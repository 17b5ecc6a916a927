import { python3 } from '../host/fd-probe.js';
import { run } from '../host/run-ip.js';

/**
 * Ends processes through pidfds, never by number after a wait: a pid freed by an exit and reused by an innocent
 * process between SIGTERM and SIGKILL must not be signalled. One python3 process (Node has no pidfd_open) opens a
 * pidfd per target, checks that it is still the process identified (its start time in /proc/PID/stat), sends
 * SIGTERM, waits on the pidfds up to the grace period, SIGKILLs through the same pidfd what is left, and waits.
 */
const SIGNALLER = String.raw`
import json, os, select, signal, sys, time
req = json.load(sys.stdin)
def starttime(pid):
    with open('/proc/%d/stat' % pid) as f:
        s = f.read()
    return int(s[s.rindex(')') + 2:].split()[19])
res, live = {}, {}
for pid, start in req['targets']:
    try:
        fd = os.pidfd_open(pid)
    except OSError as e:
        res[pid] = ['gone', None] if e.errno == 3 else ['failed', e.strerror]
        continue
    try:
        same = starttime(pid) == start
    except OSError:
        same = False
    if not same:
        os.close(fd)
        res[pid] = ['gone', 'the pid now names another process']
        continue
    try:
        signal.pidfd_send_signal(fd, signal.SIGTERM)
        live[pid] = fd
    except OSError as e:
        os.close(fd)
        res[pid] = ['gone', None] if e.errno == 3 else ['failed', 'SIGTERM: ' + e.strerror]
def wait(fds, until):
    left = dict(fds)
    while left and time.monotonic() < until:
        r, _, _ = select.select(list(left.values()), [], [], max(0, until - time.monotonic()))
        for pid in [p for p, fd in left.items() if fd in r]:
            del left[pid]
    return left
left = wait(live, time.monotonic() + req['graceMs'] / 1000)
for pid in live:
    if pid not in left:
        res[pid] = ['SIGTERM', None]
for pid, fd in left.items():
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError as e:
        if e.errno != 3:
            res[pid] = ['failed', 'SIGKILL: ' + e.strerror]
            continue
still = wait({p: fd for p, fd in left.items() if p not in res}, time.monotonic() + 2)
for pid in left:
    if pid not in res:
        res[pid] = ['failed', 'still alive after SIGKILL'] if pid in still else ['SIGKILL', None]
for fd in live.values():
    os.close(fd)
sys.stdout.write(json.dumps({str(k): v for k, v in res.items()}))
`;

export type SignalOutcome =
  /** ended by this signal */
  | { result: 'SIGTERM' | 'SIGKILL' }
  /** already gone (or the pid names another process now): nothing was sent */
  | { result: 'gone'; reason?: string }
  | { result: 'failed'; reason: string };

/** Per pid: what happened. `start` is the process's start time (field 22 of /proc/PID/stat) when it was identified. */
export async function endThroughPidfds(targets: { pid: number; start: number }[], graceMs: number): Promise<Map<number, SignalOutcome>> {
  const out = new Map<number, SignalOutcome>();
  if (targets.length === 0) return out;
  const input = JSON.stringify({ targets: targets.map((t) => [t.pid, t.start]), graceMs });
  const r = await run(python3(), ['-c', SIGNALLER], { input, timeout: graceMs + 15_000, reject: false });
  let res: Record<string, [string, string | null]> | null = null;
  try {
    if (r.exitCode === 0) res = JSON.parse(r.stdout) as Record<string, [string, string | null]>;
  } catch {
    res = null;
  }
  for (const t of targets) {
    const one = res?.[String(t.pid)];
    if (!one) {
      const why = r.exitCode === undefined ? 'did not finish' : r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`;
      out.set(t.pid, { result: 'failed', reason: `the pidfd signaller (python3) failed: ${why}; nothing is signalled by pid number` });
    } else if (one[0] === 'SIGTERM' || one[0] === 'SIGKILL') out.set(t.pid, { result: one[0] });
    else if (one[0] === 'gone') out.set(t.pid, one[1] ? { result: 'gone', reason: one[1] } : { result: 'gone' });
    else out.set(t.pid, { result: 'failed', reason: one[1] ?? 'failed' });
  }
  return out;
}
