import { readdir, readFile, stat } from 'node:fs/promises';

/**
 * How full the kernel's shared tables are: the neighbour tables (one for every namespace), conntrack, ephemeral
 * ports, file handles, NBD devices, and who holds the xtables lock. procfs and sysfs only, no child process: read
 * at every evaluation in serve and once in check. Every field is null where it could not be read.
 *
 * The procfs reads go through the thread pool (fs/promises), all at once: while namespaces are made by the
 * thousand, reading /proc/locks or /proc/net/stat/* waits on the kernel (3.6 s of a 26 s burst at 10,000 slots,
 * read synchronously), and the event loop answers carrier waits meanwhile.
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

/**
 * NBD devices as sysfs shows them (`root` is /sys for tests on a fixture tree): three small reads per device, all
 * through the thread pool (a host may have thousands of devices).
 */
export async function readNbd(
  root = '/sys',
  alive: (pid: number) => Promise<boolean> = async (p) => (await read(`/proc/${p}/stat`)) !== null,
): Promise<NbdFacts | null> {
  let names: string[];
  try {
    names = (await readdir(`${root}/block`)).filter((n) => /^nbd\d+$/.test(n));
  } catch {
    return null;
  }
  const nbdsMax = await num(`${root}/module/nbd/parameters/nbds_max`);
  if (names.length === 0 && nbdsMax === null) return null;
  const devices = await Promise.all(
    names.map(async (n) => {
      const [size, pid, inflight] = await Promise.all([num(`${root}/block/${n}/size`), num(`${root}/block/${n}/pid`), read(`${root}/block/${n}/inflight`)]);
      return { n, size: size ?? 0, pid, inflight: inflight?.trim().split(/\s+/).map(Number) ?? [0, 0], alive: pid === null || (await alive(pid)) };
    }),
  );
  let inUse = 0;
  const orphaned: NbdFacts['orphaned'] = [];
  for (const d of devices) {
    if (d.size > 0 || d.pid !== null) inUse += 1;
    if (d.pid !== null && !d.alive) orphaned.push({ device: d.n, why: `its pid ${d.pid} is gone` });
    else if (d.inflight.some((x) => x !== 0)) orphaned.push({ device: d.n, why: `not quiesced (inflight ${d.inflight.join(' ')})` });
  }
  return { nbdsMax, devices: names.length, inUse, orphaned };
}

async function read(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}

async function num(path: string): Promise<number | null> {
  const t = (await read(path))?.trim();
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : null;
}

/** The orchestrator's open fds against its RLIMIT_NOFILE; null when it is gone. */
async function fdsOf(pid: number): Promise<PressureFacts['orchestratorFds'][number] | null> {
  try {
    const open = (await readdir(`/proc/${pid}/fd`)).length;
    return { pid, open, limit: parseNofile((await read(`/proc/${pid}/limits`)) ?? '') };
  } catch {
    return null;
  }
}

/** Who holds the xtables lock; null when there is no lock file (nothing uses iptables' lock yet). */
async function xtablesHolders(path: string): Promise<XtablesLockFacts | null> {
  let inode: number;
  try {
    inode = (await stat(path)).ino;
  } catch {
    return null;
  }
  const pids = lockHolders((await read('/proc/locks')) ?? '', inode);
  const comms = await Promise.all(pids.map((pid) => read(`/proc/${pid}/comm`)));
  return { path, holders: pids.map((pid, i) => ({ pid, comm: comms[i]?.trim() ?? 'exited; a process that inherited its fd holds the lock' })) };
}

export async function readPressure(orchestratorPids: number[] = [], xtablesLock = '/run/xtables.lock'): Promise<PressureFacts> {
  const [arp, thresh4, ndisc, thresh6, ctCount, ctMax, ctStat, sockstat, rangeText, fileNrText, fds, lock, nbd] = await Promise.all([
    read('/proc/net/stat/arp_cache'),
    num('/proc/sys/net/ipv4/neigh/default/gc_thresh3'),
    read('/proc/net/stat/ndisc_cache'),
    num('/proc/sys/net/ipv6/neigh/default/gc_thresh3'),
    num('/proc/sys/net/netfilter/nf_conntrack_count'),
    num('/proc/sys/net/netfilter/nf_conntrack_max'),
    read('/proc/net/stat/nf_conntrack'),
    read('/proc/net/sockstat'),
    read('/proc/sys/net/ipv4/ip_local_port_range'),
    read('/proc/sys/fs/file-nr'),
    Promise.all(orchestratorPids.map(fdsOf)),
    xtablesHolders(xtablesLock),
    readNbd(),
  ]);
  const conntrack = ctCount !== null && ctMax !== null ? conntrackFrom(ctStat ?? '', ctCount, ctMax) : null;
  const sock = parseSockstat(sockstat ?? '');
  const range = rangeText?.trim().split(/\s+/).map(Number);
  const ports = sock && range?.length === 2 ? { ...sock, rangeSize: range[1]! - range[0]! + 1 } : null;
  const fileNr = fileNrText?.trim().split(/\s+/).map(Number);
  const files = fileNr?.length === 3 ? { open: fileNr[0]! - fileNr[1]!, max: fileNr[2]! } : null;
  return {
    neigh4: neighFrom(arp ?? '', thresh4),
    neigh6: neighFrom(ndisc ?? '', thresh6),
    conntrack,
    ports,
    files,
    orchestratorFds: fds.filter((f) => f !== null),
    nbd,
    xtablesLock: lock,
  };
}
