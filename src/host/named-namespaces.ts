import { readdir } from 'node:fs/promises';
import { run } from './run-ip.js';
import { lstatSync, readdirSync, statfsSync, statSync, type Stats } from 'node:fs';
import { ParseError } from './parse-error.js';
import { readNsidsDirect } from './nsids.js';

export const NETNS_DIR = '/run/netns';

/** statfs f_type of nsfs: a name in /run/netns is a namespace only where it is this kind of mount. */
export const NSFS_MAGIC = 0x6e736673;

export interface NamedNamespace {
  name: string;
  inode: number;
  device: number;
  createdAtMs: number;
  /** false: a plain file here (the bind mount did not propagate into vmgate's mount namespace), or unreadable */
  nsfs: boolean;
  /** a symbolic link: `ip netns del` would follow it and unmount its target, so it is never a namespace here */
  symlink?: boolean;
}

export interface NamedNamespaces {
  namespaces: NamedNamespace[];
  /** the directory exists but could not be read (ENOENT is not an error: a fresh host has no /run/netns yet) */
  error?: string;
}

/** The names in /run/netns with their namespace inode and creation time (nsfs ctime), and whether each is nsfs. */
export function listNamedNamespaces(dir = NETNS_DIR): NamedNamespaces {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    return listingError(dir, err);
  }
  const out: NamedNamespace[] = [];
  for (const name of names) {
    const n = statNamedNamespace(`${dir}/${name}`, name);
    if (n) out.push(n);
  }
  return { namespaces: out };
}

/** The names in the directory, nothing else (none when it cannot be read: the listing says why). */
export function namesIn(dir = NETNS_DIR): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** names looked at per event-loop turn by the listing that yields (one lstat each: about 1.5 ms per turn) */
const LIST_CHUNK = 256;

/**
 * The same listing without holding the event loop (serve, at start and when inotify says "look at everything"): the
 * directory is read on the thread pool, then one lstat per name, LIST_CHUNK names per turn.
 */
export async function listNamedNamespacesAsync(dir = NETNS_DIR): Promise<NamedNamespaces> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    return listingError(dir, err);
  }
  const out: NamedNamespace[] = [];
  for (let i = 0; i < names.length; i += LIST_CHUNK) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    for (const name of names.slice(i, i + LIST_CHUNK)) {
      const n = statNamedNamespace(`${dir}/${name}`, name);
      if (n) out.push(n);
    }
  }
  return { namespaces: out };
}

/**
 * A stamp of the directory itself (its mtime, which every name added or removed moves, and its inode): unchanged
 * means no name came or went since it was taken. null: not there or not readable.
 */
export function netnsDirStamp(dir = NETNS_DIR): string | null {
  try {
    const st = statSync(dir, { bigint: true });
    return `${st.ino}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return null;
  }
}

/** The names in the directory, nothing else (read on the thread pool); an Error when it cannot be read. */
export async function readNetnsNames(dir = NETNS_DIR): Promise<string[] | Error> {
  try {
    return await readdir(dir);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? [] : (err as Error);
  }
}

/** A fresh host has no /run/netns yet: ENOENT is no namespaces, anything else an error. */
function listingError(dir: string, err: unknown): NamedNamespaces {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? { namespaces: [] } : { namespaces: [], error: `cannot read ${dir}: ${code}` };
}

/** A symlink is reported as what it is: not a namespace, whatever it points at. */
function symlinkEntry(name: string, l: Stats): NamedNamespace {
  return { name, inode: l.ino, device: l.dev, createdAtMs: l.ctimeMs, nsfs: false, symlink: true };
}

/** One name from its stat (or the stat's error): null when it vanished; nsfs false when not looked at. */
function named(name: string, st: Stats | NodeJS.ErrnoException, nsfs: boolean): NamedNamespace | null {
  if (st instanceof Error) return st.code === 'ENOENT' ? null : { name, inode: 0, device: 0, createdAtMs: 0, nsfs: false };
  return { name, inode: st.ino, device: st.dev, createdAtMs: st.ctimeMs, nsfs };
}

/**
 * The device of nsfs (every namespace file is on its one superblock), from vmgate's own namespace link: a name in
 * /run/netns or an fd on it is a namespace. null when that cannot be read (names are then asked with statfs).
 */
let nsfsDev: number | null | undefined;
export function nsfsDevice(): number | null {
  if (nsfsDev !== undefined) return nsfsDev;
  try {
    const st = statSync('/proc/self/ns/net');
    nsfsDev = statfsSync('/proc/self/ns/net').type === NSFS_MAGIC ? st.dev : null;
  } catch {
    nsfsDev = null;
  }
  return nsfsDev;
}

/**
 * One name: null when it vanished; nsfs false when it is not a namespace mount here or could not be looked at. One
 * lstat: it does not follow a symlink but does cross the bind mount, so it gives the namespace's own inode, ctime
 * and device, and the device says nsfs (a plain file left by an unpropagated mount is on tmpfs).
 */
export function statNamedNamespace(path: string, name: string): NamedNamespace | null {
  let st: Stats | NodeJS.ErrnoException;
  try {
    st = lstatSync(path);
    if (st.isSymbolicLink()) return symlinkEntry(name, st);
  } catch (err) {
    st = err as NodeJS.ErrnoException;
  }
  if (st instanceof Error) return named(name, st, false);
  const dev = nsfsDevice();
  if (dev !== null) return named(name, st, st.dev === dev);
  let nsfs = false;
  try {
    nsfs = statfsSync(path).type === NSFS_MAGIC;
  } catch {
    /* unknown: not a namespace as far as we can tell */
  }
  return named(name, st, nsfs);
}

/** The names in /run/netns (none when it does not exist or cannot be read). */
export function readNamedNamespaces(dir = NETNS_DIR): NamedNamespace[] {
  return listNamedNamespaces(dir).namespaces;
}

/**
 * Parses `ip -j netns list` (or, from versions without JSON, the text form `NAME (id: N)`) into name -> nsid.
 * Never throws: what is not ip's output is a ParseError. (`ip netns list-id` printed only 134 of 1000 ids.)
 */
export function parseNetnsList(output: string): Map<string, number | null> | ParseError {
  const ids = new Map<string, number | null>();
  const text = output.trim();
  if (text === '') return ids;
  if (text.startsWith('[')) {
    let rows: unknown;
    try {
      rows = JSON.parse(text);
    } catch (err) {
      return new ParseError(`ip -j netns list printed something that is not JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) return new ParseError('ip -j netns list printed JSON that is not a list');
    for (const row of rows as { name?: unknown; id?: unknown }[]) {
      if (typeof row !== 'object' || row === null || typeof row.name !== 'string') return new ParseError('ip -j netns list printed a row without a name');
      ids.set(row.name, typeof row.id === 'number' ? row.id : null);
    }
    return ids;
  }
  for (const line of text.split('\n')) {
    const m = /^(\S+)(?:\s+\(id:\s*(\d+)\))?/.exec(line.trim());
    if (m) ids.set(m[1]!, m[2] !== undefined ? Number(m[2]) : null);
  }
  return ids;
}

/**
 * name -> nsid for the given names (default: every name in the directory), asked of the kernel directly: `ip netns
 * list` opens every name and hangs forever on a FIFO in /run/netns. Names that could not be asked map to null.
 */
export async function readNsids(names?: string[], dir = NETNS_DIR, known?: NamedNamespaces): Promise<Map<string, number | null>> {
  let listing = known;
  const list = names ?? (listing ??= listNamedNamespaces(dir)).namespaces.map((n) => n.name);
  // many names, every entry a namespace mount: one `ip -j netns list` is faster (55 ms for 1000 against 80 ms);
  // for a few names (a diagnosis, a fresh slot) asking the kernel beats a process that reads the whole directory,
  // and the directory is not even listed (25 ms synchronous at 1,000 names)
  if (list.length > 64 && dir === NETNS_DIR && (listing ??= listNamedNamespaces(dir)) && !listing.error && listing.namespaces.every((n) => n.nsfs)) {
    // its kernel work grows with the square of the namespaces (each nsid lookup walks the host's nsid table): 2 s
    // at 10,000 names here, so the limit grows with the names
    const r = await run('ip', ['-j', 'netns', 'list'], { timeout: 10_000 + listing.namespaces.length, reject: false });
    const all = r.exitCode === 0 ? parseNetnsList(r.stdout) : null;
    if (all instanceof Map) return new Map(list.map((n) => [n, all.get(n) ?? null]));
  }
  const direct = await readNsidsDirect(list, dir);
  return new Map([...direct].map(([name, id]) => [name, id instanceof Error ? null : id]));
}
