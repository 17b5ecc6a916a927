import { readFileSync } from 'node:fs';

export interface ProcessDetails {
  pid: number;
  comm: string;
  /** kernel state letter: R running, S sleeping, Z zombie, ... */
  state: string;
  alive: boolean;
  startedAt: string | null;
  command: string;
}

let bootTimeMs: number | null = null;
function bootTime(): number {
  if (bootTimeMs === null) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootTimeMs = m ? Number(m[1]) * 1000 : 0;
  }
  return bootTimeMs;
}

/** State, start time and command line of one process; null if it is gone. USER_HZ is 100 on Linux. */
export function readProcessDetails(pid: number): ProcessDetails | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    const state = fields[0] ?? '?';
    const startTicks = Number(fields[19]);
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      /* zombie */
    }
    return {
      pid,
      comm,
      state,
      alive: state !== 'Z' && state !== 'X',
      startedAt: Number.isFinite(startTicks) ? new Date(bootTime() + startTicks * 10).toISOString() : null,
      command,
    };
  } catch {
    return null;
  }
}

/** Mount points of the namespace other than its /run/netns name (bind mounts keep a namespace alive). */
export function namespaceMounts(inode: number, mountinfo = '/proc/self/mountinfo'): string[] {
  const out: string[] = [];
  for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
    const cols = line.split(' ');
    if (cols[3] === `net:[${inode}]`) out.push(cols[4]!);
  }
  return out;
}
