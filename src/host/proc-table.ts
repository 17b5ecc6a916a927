import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ProcessRef } from './types.js';

export interface ProcessEntry extends ProcessRef {
  netnsInode: number | null;
  /** attached tun fds: fd number and the interface named by fdinfo's `iff:` line */
  tunFds: { fd: number; iff: string }[];
  /** inodes of network namespaces this process holds open as fds */
  netnsFds: number[];
  /** /dev/net/tun fds not attached to any interface (opened, no TUNSETIFF) */
  openTunFds: number[];
}

const NET_LINK = /^net:\[(\d+)\]$/;

function readComm(dir: string): string {
  try {
    return readFileSync(`${dir}/comm`, 'utf8').trimEnd();
  } catch {
    return '';
  }
}

export function parseIff(fdinfo: string): string | null {
  const m = /^iff:\s*(\S+)/m.exec(fdinfo);
  return m ? m[1]! : null;
}

/**
 * One pass over /proc: each process's network namespace, its attached tun fds and namespace fds.
 * Sync on purpose: thousands of tiny reads are faster without a promise each, and the pass is short.
 */
export function readProcessTable(procDir = '/proc'): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const pid of listPids(procDir)) {
    const entry = readProcessEntry(Number(pid), procDir);
    if (entry) out.push(entry);
  }
  return out;
}

/** The numeric entries of /proc: one per process (threads are not listed). */
function listPids(procDir: string): string[] {
  try {
    return readdirSync(procDir).filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57);
  } catch {
    return [];
  }
}

/** One process's entry; null when it is gone or has no readable network namespace (kernel threads, races). */
export function readProcessEntry(pid: number, procDir = '/proc'): ProcessEntry | null {
  const dir = `${procDir}/${pid}`;
  let netnsInode: number | null = null;
  try {
    const m = NET_LINK.exec(readlinkSync(`${dir}/ns/net`));
    if (m) netnsInode = Number(m[1]);
  } catch {
    return null;
  }
  const entry: ProcessEntry = { pid, comm: '', netnsInode, tunFds: [], netnsFds: [], openTunFds: [] };
  let fds: string[] = [];
  try {
    fds = readdirSync(`${dir}/fd`);
  } catch {
    /* exited meanwhile or not readable */
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`${dir}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target === '/dev/net/tun') {
      try {
        const iff = parseIff(readFileSync(`${dir}/fdinfo/${fd}`, 'utf8'));
        if (iff) entry.tunFds.push({ fd: Number(fd), iff });
        else entry.openTunFds.push(Number(fd));
      } catch {
        /* fd closed meanwhile */
      }
    } else if (target.startsWith('net:[')) {
      const m = NET_LINK.exec(target);
      if (m) entry.netnsFds.push(Number(m[1]));
    }
  }
  entry.comm = readComm(dir);
  return entry;
}

/** comm is cut by the kernel to 15 bytes: compare the configured name the same way. */
export function commMatches(comm: string, wanted: string): boolean {
  return comm === wanted.slice(0, 15);
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // field 3, after the parenthesised comm: Z (zombie) and X (dead) count as gone
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Who has `iface` of the namespace with this inode attached: reads ns/net of every process but fds only of
 * those inside, so it stays cheap on a busy host. Used per answer by the gate.
 */
export function findTapHolders(netnsInode: number, iface: string, procDir = '/proc'): { pid: number; comm: string; fd: number }[] {
  const out: { pid: number; comm: string; fd: number }[] = [];
  const want = `net:[${netnsInode}]`;
  for (const name of listPids(procDir)) {
    try {
      if (readlinkSync(`${procDir}/${name}/ns/net`) !== want) continue;
    } catch {
      continue;
    }
    const entry = readProcessEntry(Number(name), procDir);
    for (const t of entry?.tunFds ?? []) if (t.iff === iface) out.push({ pid: entry!.pid, comm: entry!.comm, fd: t.fd });
  }
  return out;
}
