import { readdirSync, readFileSync, statSync } from 'node:fs';

/**
 * How full the kernel's shared tables are: the neighbour tables (one for every namespace), conntrack, ephemeral
 * ports, file handles, NBD devices, and who holds the xtables lock. procfs and sysfs only, no child process: read
 * at every evaluation in serve and once in check. Every field is null where it could not be read.
 */
export interface PressureFacts {
  neigh4: NeighFacts | null;
  neigh6: NeighFacts | null;
  conntrack: ConntrackFacts | null;
  ports: { inUse: number; timeWait: number; rangeSize: number } | null;
  files: { open: number; max: number } | null;
  /** the orchestrator processes' open fds against their RLIMIT_NOFILE */
  orchestratorFds: { pid: number; open: number; limit: number | null }[];
  nbd: NbdFacts | null;
  xtablesLock: XtablesLockFacts | null;
}

export interface NeighFacts {
  entries: number;
  gcThresh3: number | null;
  /** table_fulls summed over CPUs: each is the kernel refusing an entry (since boot) */
  tableFulls: number;
}

export interface ConntrackFacts {
  count: number;
  max: number;
  /** drop + early_drop + insert_failed summed over CPUs (since boot) */
  drops: number;
}

export interface NbdFacts {
  nbdsMax: number | null;
  devices: number;
  /** devices with a non-zero size or a pid: in use */
  inUse: number;
  /** devices whose pid names no live process, or whose inflight is not 0 0 */
  orphaned: { device: string; why: string }[];
}

export interface XtablesLockFacts {
  path: string;
  holders: { pid: number; comm: string }[];
}

/** One row per CPU after the header; the named columns are hex. Returns column -> values (one per row). */
export function parseStatTable(text: string): Map<string, number[]> | null {
  const lines = text.trim().split('\n');
  if (lines.length < 2) return null;
  const head = lines[0]!.trim().split(/\s+/);
  const out = new Map<string, number[]>(head.map((h) => [h, []]));
  for (const line of lines.slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length !== head.length) return null;
    for (let i = 0; i < head.length; i++) {
      const v = parseInt(cols[i]!, 16);
      if (!Number.isFinite(v)) return null;
      out.get(head[i]!)!.push(v);
    }
  }
  return out;
}

const sum = (xs: number[] | undefined) => (xs ?? []).reduce((a, b) => a + b, 0);

export function neighFrom(statText: string, thresh: number | null): NeighFacts | null {
  const t = parseStatTable(statText);
  if (!t?.has('entries') || !t.has('table_fulls')) return null;
  return { entries: t.get('entries')![0] ?? 0, gcThresh3: thresh, tableFulls: sum(t.get('table_fulls')) };
}

export function conntrackFrom(statText: string, count: number, max: number): ConntrackFacts | null {
  const t = parseStatTable(statText);
  if (!t) return null;
  return { count, max, drops: sum(t.get('drop')) + sum(t.get('early_drop')) + sum(t.get('insert_failed')) };
}

/** `TCP: inuse N orphan N tw N alloc N mem N` of /proc/net/sockstat. */
export function parseSockstat(text: string): { inUse: number; timeWait: number } | null {
  const m = /^TCP: inuse (\d+) orphan \d+ tw (\d+)/m.exec(text);
  return m ? { inUse: Number(m[1]), timeWait: Number(m[2]) } : null;
}

/** `Max open files  SOFT  HARD  files` of /proc/PID/limits: the soft limit (null: unlimited or unreadable). */
export function parseNofile(limits: string): number | null {
  const m = /^Max open files\s+(\S+)/m.exec(limits);
  return m && /^\d+$/.test(m[1]!) ? Number(m[1]) : null;
}

/** Holders of a lock on the inode in /proc/locks (`N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE ...`). */
export function lockHolders(locks: string, inode: number): number[] {
  const out: number[] = [];
  for (const line of locks.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // "N:" [->] TYPE ADVISORY|MANDATORY READ|WRITE PID DEV:INODE START END; blocked waiters have "->"
    if (cols[1] === '->') continue;
    const id = cols[5]?.split(':');
    if (id && id.length === 3 && Number(id[2]) === inode && /^\d+$/.test(cols[4] ?? '')) out.push(Number(cols[4]));
  }
  return out;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function num(path: string): number | null {
  const t = read(path)?.trim();
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : null;
}

/** The locker's name; a locker that exited leaves the lock with whoever inherited its fd (say so). */
function comm(pid: number): string {
  return read(`/proc/${pid}/comm`)?.trim() ?? 'exited; a process that inherited its fd holds the lock';
}

/** NBD devices as sysfs shows them (`root` is /sys for tests on a fixture tree). */
export function readNbd(root = '/sys', alive: (pid: number) => boolean = (p) => read(`/proc/${p}/stat`) !== null): NbdFacts | null {
  let names: string[];
  try {
    names = readdirSync(`${root}/block`).filter((n) => /^nbd\d+$/.test(n));
  } catch {
    return null;
  }
  const nbdsMax = num(`${root}/module/nbd/parameters/nbds_max`);
  if (names.length === 0 && nbdsMax === null) return null;
  let inUse = 0;
  const orphaned: NbdFacts['orphaned'] = [];
  for (const n of names) {
    const size = num(`${root}/block/${n}/size`) ?? 0;
    const pid = num(`${root}/block/${n}/pid`);
    const inflight = read(`${root}/block/${n}/inflight`)?.trim().split(/\s+/).map(Number) ?? [0, 0];
    if (size > 0 || pid !== null) inUse += 1;
    if (pid !== null && !alive(pid)) orphaned.push({ device: n, why: `its pid ${pid} is gone` });
    else if (inflight.some((x) => x !== 0)) orphaned.push({ device: n, why: `not quiesced (inflight ${inflight.join(' ')})` });
  }
  return { nbdsMax, devices: names.length, inUse, orphaned };
}

export function readPressure(orchestratorPids: number[] = [], xtablesLock = '/run/xtables.lock'): PressureFacts {
  const neigh4 = neighFrom(read('/proc/net/stat/arp_cache') ?? '', num('/proc/sys/net/ipv4/neigh/default/gc_thresh3'));
  const neigh6 = neighFrom(read('/proc/net/stat/ndisc_cache') ?? '', num('/proc/sys/net/ipv6/neigh/default/gc_thresh3'));
  const ctCount = num('/proc/sys/net/netfilter/nf_conntrack_count');
  const ctMax = num('/proc/sys/net/netfilter/nf_conntrack_max');
  const conntrack = ctCount !== null && ctMax !== null ? conntrackFrom(read('/proc/net/stat/nf_conntrack') ?? '', ctCount, ctMax) : null;
  const sock = parseSockstat(read('/proc/net/sockstat') ?? '');
  const range = read('/proc/sys/net/ipv4/ip_local_port_range')?.trim().split(/\s+/).map(Number);
  const ports = sock && range?.length === 2 ? { ...sock, rangeSize: range[1]! - range[0]! + 1 } : null;
  const fileNr = read('/proc/sys/fs/file-nr')?.trim().split(/\s+/).map(Number);
  const files = fileNr?.length === 3 ? { open: fileNr[0]! - fileNr[1]!, max: fileNr[2]! } : null;
  const orchestratorFds = orchestratorPids.map((pid) => {
    let open = 0;
    try {
      open = readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      open = -1;
    }
    return { pid, open, limit: parseNofile(read(`/proc/${pid}/limits`) ?? '') };
  });
  let lock: XtablesLockFacts | null = null;
  try {
    const inode = statSync(xtablesLock).ino;
    lock = { path: xtablesLock, holders: lockHolders(read('/proc/locks') ?? '', inode).map((pid) => ({ pid, comm: comm(pid) })) };
  } catch {
    lock = null; // no lock file: nothing uses iptables' lock yet
  }
  return { neigh4, neigh6, conntrack, ports, files, orchestratorFds: orchestratorFds.filter((f) => f.open >= 0), nbd: readNbd(), xtablesLock: lock };
}
