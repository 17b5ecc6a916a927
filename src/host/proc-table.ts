import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { nsfsDevice } from './named-namespaces.js';
import type { ProcessRef } from './types.js';

export interface ProcessEntry extends ProcessRef {
  /** network namespaces of the process's live threads (usually one; a VMM's worker may be elsewhere) */
  netnsInodes: number[];
  /**
   * attached tun fds: fd number, the interface named by fdinfo's `iff:` line, and (once placed by host/fd-probe.ts)
   * the inode of the namespace the device lives in; null or absent: not placed
   */
  tunFds: { fd: number; iff: string; devNetns?: number | null }[];
  /**
   * the sockets it holds (`socket:[N]`) and, once placed by host/fd-probe.ts, the namespace each lives in: a socket
   * living in a slot keeps that slot in use, whoever holds it from wherever
   */
  socketFds?: { fd: number; inode: number; netns?: number | null }[];
  /** inodes of network namespaces this process holds open as fds (via /proc/PID/ns/net or a /run/netns path) */
  netnsFds: number[];
  /** /dev/net/tun fds not attached to any interface (opened, no TUNSETIFF) */
  openTunFds: number[];
  /** set when part of this process could not be read (EACCES, EPERM...): it may be using any namespace */
  unreadable?: string;
  /**
   * For an unreadable process: the interface names of its network namespace from /proc/PID/net/dev (readable
   * without ptrace rights); null if that failed too. Says which slots it could be inside.
   */
  netDevices?: string[] | null | 'many';
}

/** What one pass over /proc saw: absent (exited) processes are simply not there; unreadable ones are kept and marked. */
export interface ProcessTable {
  processes: ProcessEntry[];
  /** /proc itself could not be listed */
  error?: string;
}

const NET_LINK = /^net:\[(\d+)\]$/;

/** Errors that mean "the process or fd is gone", as opposed to "we may not look". */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ESRCH';
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

class Unreadable extends Error {}

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
 * One pass over /proc: each process's network namespaces (every thread), its attached tun fds and namespace fds.
 * Sync on purpose: thousands of tiny reads are faster without a promise each. For `check`/`cleanup`/`inventory`,
 * not for a request path.
 */
export function readProcessTable(procDir = '/proc'): ProcessTable {
  const pids = pidsOrError(procDir);
  if (!Array.isArray(pids)) return pids;
  const processes: ProcessEntry[] = [];
  for (const pid of pids) {
    const entry = readProcessEntry(Number(pid), procDir);
    if (entry) processes.push(entry);
  }
  return { processes };
}

/**
 * The same pass for a long-running process (serve's /inventory and /metrics): a few processes per event-loop turn,
 * so a host with thousands of them never stalls the answers in between.
 */
export async function readProcessTableAsync(procDir = '/proc', sliceMs = 2): Promise<ProcessTable> {
  const pids = pidsOrError(procDir);
  if (!Array.isArray(pids)) return pids;
  const processes: ProcessEntry[] = [];
  let i = 0;
  while (i < pids.length) {
    // a slice of at most sliceMs (a busy CPU makes each process slower to read), then the loop's turn
    const until = performance.now() + sliceMs;
    do {
      const entry = readProcessEntry(Number(pids[i++]), procDir);
      if (entry) processes.push(entry);
    } while (i < pids.length && performance.now() < until);
    await new Promise((r) => setImmediate(r));
  }
  return { processes };
}

/** The pids, or the empty table that says /proc could not be listed. */
function pidsOrError(procDir: string): string[] | ProcessTable {
  try {
    return listPids(procDir);
  } catch (err) {
    return { processes: [], error: `cannot list ${procDir}: ${code(err)}` };
  }
}

/** The numeric entries of /proc: one per process (threads are under /proc/PID/task). */
export function listPids(procDir = '/proc'): string[] {
  return readdirSync(procDir).filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57);
}

/** Threads of a process with their network namespace; gone threads (and zombie threads) are left out. */
function readThreads(dir: string): { tid: string; inode: number }[] {
  const tids = readdirSync(`${dir}/task`);
  const out: { tid: string; inode: number }[] = [];
  for (const tid of tids) {
    try {
      const m = NET_LINK.exec(readlinkSync(`${dir}/task/${tid}/ns/net`));
      if (m) out.push({ tid, inode: Number(m[1]) });
    } catch (err) {
      if (!isGone(err)) throw new Unreadable(`task ${tid} ns/net: ${code(err)}`);
    }
  }
  return out;
}

/** The state letter of a /proc/.../stat file (field 3, after the parenthesised comm); X when it cannot be read. */
/** The fields of a /proc/.../stat file after the parenthesised comm (field 3 first); null when it cannot be read. */
function statFields(statPath: string): string[] | null {
  try {
    const stat = readFileSync(statPath, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The state letter (field 3); X when it cannot be read. */
function stateOf(statPath: string): string {
  return statFields(statPath)?.[0] ?? 'X';
}

/**
 * One process's entry; null when it is gone (or a zombie with nothing left). A process we may not read is
 * returned with `unreadable` set, never dropped: "could not look" is not "nothing there".
 */
export function readProcessEntry(pid: number, procDir = '/proc'): ProcessEntry | null {
  const dir = `${procDir}/${pid}`;
  const comm = readComm(dir);
  const entry: ProcessEntry = { pid, comm, netnsInodes: [], tunFds: [], netnsFds: [], openTunFds: [] };
  try {
    const threads = readThreads(dir);
    if (threads.length === 0) return null;
    const inodes = [...new Set(threads.map((t) => t.inode))];
    entry.netnsInodes = inodes;
    // threads share one fd table almost always; read it from a live thread, and again where a thread's namespace differs
    const readers = inodes.map((ino) => {
      const candidates = threads.filter((t) => t.inode === ino);
      return (threads.length > 1 ? candidates.find((t) => stateOf(`${dir}/task/${t.tid}/stat`) !== 'Z') : undefined) ?? candidates[0]!;
    });
    const seen = new Set<string>();
    for (const t of readers) {
      const fdDir = threads.length === 1 ? `${dir}/fd` : `${dir}/task/${t.tid}/fd`;
      const infoDir = threads.length === 1 ? `${dir}/fdinfo` : `${dir}/task/${t.tid}/fdinfo`;
      readFds(entry, fdDir, infoDir, seen);
    }
  } catch (err) {
    if (err instanceof Unreadable) entry.unreadable = err.message;
    else if (isGone(err)) return null;
    else entry.unreadable = `${code(err)}`;
  }
  if (entry.unreadable) {
    if (!entry.comm) entry.comm = '?';
    entry.netDevices = readNetDevices(dir);
  }
  return entry;
}

/** How much of /proc/PID/net/dev is read: a slot's namespace lists a handful of interfaces, the host's 30,000. */
const NET_DEV_MAX_BYTES = 32 * 1024;
/** Fewer interfaces than this always fit in NET_DEV_MAX_BYTES (a line is at most ~130 bytes). */
export const NET_DEV_MANY = 200;

/**
 * Interface names in /proc/PID/net/dev (the process's network namespace), null if unreadable, 'many' when the
 * namespace has more than NET_DEV_MAX_BYTES' worth (the host's, with a veth per slot: reading it whole each sweep
 * cost 1.3 MB per unreadable process at 10,000 slots).
 */
export function readNetDevices(dir: string): string[] | null | 'many' {
  let fd: number;
  try {
    fd = openSync(`${dir}/net/dev`, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.allocUnsafe(NET_DEV_MAX_BYTES);
    let got = 0;
    for (let n = 1; n > 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, null);
    if (got >= buf.length) return 'many';
    return parseNetDev(buf.toString('utf8', 0, got));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

export function parseNetDev(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i > 0) out.push(line.slice(0, i).trim());
  }
  return out.sort();
}

function readFds(entry: ProcessEntry, fdDir: string, infoDir: string, seen: Set<string>): void {
  let fds: string[];
  try {
    fds = readdirSync(fdDir);
  } catch (err) {
    if (isGone(err)) return;
    throw new Unreadable(`fd table: ${code(err)}`);
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`${fdDir}/${fd}`);
    } catch (err) {
      if (isGone(err)) continue;
      throw new Unreadable(`fd ${fd}: ${code(err)}`);
    }
    const key = `${fd}:${target}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (target === '/dev/net/tun') {
      try {
        const iff = parseIff(readFileSync(`${infoDir}/${fd}`, 'utf8'));
        if (iff) entry.tunFds.push({ fd: Number(fd), iff });
        else entry.openTunFds.push(Number(fd));
      } catch (err) {
        if (!isGone(err)) throw new Unreadable(`fdinfo ${fd}: ${code(err)}`);
      }
    } else if (target.startsWith('socket:[')) {
      (entry.socketFds ??= []).push({ fd: Number(fd), inode: Number(target.slice(8, -1)) });
    } else if (target.startsWith('net:[')) {
      const m = NET_LINK.exec(target);
      if (m) entry.netnsFds.push(Number(m[1]));
    } else if (target.startsWith('/') && !target.startsWith('/dev/') && !target.startsWith('/proc/')) {
      // an fd opened on /run/netns/NAME (or another bind mount) reads back as that path: stat tells a namespace
      try {
        const st = statSync(`${fdDir}/${fd}`);
        if (st.dev === nsfsDevice()) entry.netnsFds.push(st.ino);
      } catch (err) {
        if (!isGone(err)) throw new Unreadable(`fd ${fd} stat: ${code(err)}`);
      }
    }
  }
}

/** comm is cut by the kernel to 15 bytes: compare the configured name the same way. */
export function commMatches(comm: string, wanted: string): boolean {
  return comm === wanted.slice(0, 15);
}

/** Z (zombie) and X (dead, or gone) count as not alive. */
export function isAlive(pid: number): boolean {
  const state = stateOf(`/proc/${pid}/stat`);
  return state !== 'Z' && state !== 'X';
}

/** The process's start time (field 22 of /proc/PID/stat, in clock ticks since boot): with the pid, its identity. */
export function readStartTime(pid: number): number | null {
  const v = Number(statFields(`/proc/${pid}/stat`)?.[19]);
  return Number.isSafeInteger(v) ? v : null;
}
