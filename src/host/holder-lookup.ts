import { readlinkSync } from 'node:fs';
import { listPids, readProcessEntry } from './proc-table.js';
import type { TapHolder } from './types.js';

const NET_LINK = /^net:\[(\d+)\]$/;

/**
 * Tap holders for the gate's answers, batched: all answers given in one event-loop turn share one pass over
 * /proc/PID/ns/net (a storm of 200 failed waits costs one pass, not 200), and only the processes inside the
 * namespaces asked about have their fds read. The pass is forgotten at the next turn, so answers stay current.
 */
export class HolderLookup {
  private byInode: Map<number, number[]> | null = null;
  private readonly cache = new Map<string, TapHolder[]>();
  /** passes over /proc made (tests, metrics) */
  passes = 0;

  constructor(private readonly procDir = '/proc') {}

  holders(netnsInode: number, iface: string): TapHolder[] {
    const key = `${netnsInode}|${iface}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const pids = this.index().get(netnsInode) ?? [];
    const out: TapHolder[] = [];
    for (const pid of pids) {
      const entry = readProcessEntry(pid, this.procDir);
      for (const t of entry?.tunFds ?? []) if (t.iff === iface) out.push({ pid: entry!.pid, comm: entry!.comm, fd: t.fd });
    }
    this.cache.set(key, out);
    return out;
  }

  private index(): Map<number, number[]> {
    if (this.byInode) return this.byInode;
    const map = new Map<number, number[]>();
    let pids: string[] = [];
    try {
      pids = listPids(this.procDir);
    } catch {
      /* no /proc: no holders can be named */
    }
    for (const pid of pids) {
      try {
        const m = NET_LINK.exec(readlinkSync(`${this.procDir}/${pid}/ns/net`));
        if (m) {
          const list = map.get(Number(m[1]));
          if (list) list.push(Number(pid));
          else map.set(Number(m[1]), [Number(pid)]);
        }
      } catch {
        /* gone, or a zombie leader: the carrier still tells use */
      }
    }
    this.byInode = map;
    this.passes += 1;
    setImmediate(() => {
      this.byInode = null;
      this.cache.clear();
    });
    return map;
  }
}
