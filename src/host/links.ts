import { createNetlink } from './netlink.js';
import { readLinksInside } from './inside-links.js';
import { NETNS_DIR, readNsids } from './named-namespaces.js';
import { run } from './run-ip.js';
import { flagBitsLabels, linkFacts, operstateName } from './link-flags.js';
import { ParseError } from './parse-error.js';
import type { LinkFacts } from './types.js';

type RawSocket = ReturnType<typeof createNetlink>;
interface RtSocket {
  socket: RawSocket;
  /** the socket's own port, asked once (the package asks the kernel again at every send otherwise) */
  port: number;
}

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const NLM_F_DUMP = 0x300;
const IFLA_IFNAME = 3;
const IFLA_OPERSTATE = 16;
const IFLA_TARGET_NETNSID = 46;

/**
 * struct ifinfomsg (all zero: every link) + IFLA_TARGET_NETNSID. No IFLA_EXT_MASK: with one, the kernel sizes the
 * dump by walking every link of the asking namespace (rtnl_calcit), and the host has a veth per slot: 10x slower.
 */
export function linkDumpRequest(nsid: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt16LE(8, 16);
  b.writeUInt16LE(IFLA_TARGET_NETNSID, 18);
  b.writeInt32LE(nsid, 20);
  return b;
}

const IFLA_LINKINFO = 18;
const IFLA_LINK_NETNSID = 37;
const IFLA_INFO_KIND = 1;

/** What vmgate reads of one link: nothing else of an RTM_NEWLINK is decoded. */
export interface LinkMessage {
  ifindex: number;
  flags: number;
  name: string;
  operstate: number | undefined;
  /** IFLA_INFO_KIND (veth, tun...); null when none */
  kind: string | null;
  /** IFLA_LINK_NETNSID: the namespace of a veth's peer, as the asking namespace numbers it; null when none */
  linkNetnsid: number | null;
}

function nulString(b: Buffer, from: number, to: number): string {
  const end = b.indexOf(0, from);
  return b.toString('latin1', from, end < 0 || end > to ? to : end);
}

/**
 * One RTM_NEWLINK payload: ifindex and flags from struct ifinfomsg, then only the attributes vmgate reads (the
 * package's parser decodes all of them, counters and per-family settings: most of the cost of reading 10,000 slots).
 */
export function decodeLink(data: Uint8Array): LinkMessage | null {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 16) return null;
  const out: LinkMessage = { ifindex: b.readInt32LE(4), flags: b.readUInt32LE(8), name: '', operstate: undefined, kind: null, linkNetnsid: null };
  for (let off = 16; off + 4 <= b.length;) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) break;
    const type = b.readUInt16LE(off + 2) & 0x3fff;
    if (type === IFLA_IFNAME) out.name = nulString(b, off + 4, off + len);
    else if (type === IFLA_OPERSTATE && len >= 5) out.operstate = b.readUInt8(off + 4);
    else if (type === IFLA_LINK_NETNSID && len >= 8) out.linkNetnsid = b.readInt32LE(off + 4);
    else if (type === IFLA_LINKINFO) {
      for (let i = off + 4; i + 4 <= off + len;) {
        const l = b.readUInt16LE(i);
        if (l < 4 || i + l > off + len) break;
        if ((b.readUInt16LE(i + 2) & 0x3fff) === IFLA_INFO_KIND) out.kind = nulString(b, i + 4, i + l);
        i += (l + 3) & ~3;
      }
    }
    off += (len + 3) & ~3;
  }
  return out;
}

/** A slot's link as the gate keeps it. */
function slotLink(m: LinkMessage): LinkFacts {
  return linkFacts(m.name, m.ifindex, flagBitsLabels(m.flags), operstateName(m.operstate));
}

/** One RTM_NEWLINK payload as the gate keeps it. */
export function parseLinkMessage(data: Uint8Array): LinkFacts | null {
  const m = decodeLink(data);
  return m && slotLink(m);
}

/** One RTM_GETLINK dump on a raw route socket: the namespace of the socket, or the one nsid names. */
export async function dumpLinks(socket: RawSocket, nsid: number | null, localPort?: number): Promise<LinkMessage[]> {
  const req = nsid === null ? Buffer.alloc(16) : linkDumpRequest(nsid);
  const [msgs] = await socket.request(RTM_GETLINK, req, { flags: NLM_F_DUMP, ...(localPort !== undefined ? { localPort } : {}) });
  const out: LinkMessage[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK) continue;
    const l = decodeLink(m.data);
    if (l) out.push(l);
  }
  return out;
}

/** struct ifinfomsg (all zero) + IFLA_IFNAME: one link of the asking namespace, by name. */
export function linkByNameRequest(name: string): Buffer {
  const len = 4 + Buffer.byteLength(name) + 1;
  const b = Buffer.alloc(16 + ((len + 3) & ~3));
  b.writeUInt16LE(len, 16);
  b.writeUInt16LE(IFLA_IFNAME, 18);
  b.write(name, 20, 'latin1');
  return b;
}

/** One link of the socket's namespace by name (no dump); null when there is none by that name (ENODEV). */
export async function getLinkByName(socket: RawSocket, name: string): Promise<LinkMessage | null> {
  try {
    const [msgs] = await socket.request(RTM_GETLINK, linkByNameRequest(name), { timeout: 2000 });
    const reply = msgs.find((m) => m.type === RTM_NEWLINK);
    return reply ? decodeLink(reply.data) : null;
  } catch (err) {
    if (/\bENODEV\b/.test((err as Error).message)) return null;
    throw err;
  }
}

/**
 * Reads links of other namespaces from the host namespace without entering them: one RTM_GETLINK dump per
 * namespace with IFLA_TARGET_NETNSID. One socket per concurrent dump (one dump at a time each).
 */
export class LinkReader {
  private readonly sockets: RtSocket[] = [];

  constructor(parallel = 4) {
    for (let i = 0; i < parallel; i++) {
      const socket = createNetlink(0);
      this.sockets.push({ socket, port: socket.address().port });
    }
  }

  /** calls in turn: the package cannot run two dumps at once on one socket ("Multipart message not terminated") */
  private turn: Promise<unknown> = Promise.resolve();

  /** Links of each nsid; a namespace whose dump failed gets an Error instead. Concurrent calls queue. */
  readMany(nsids: number[]): Promise<Map<number, LinkFacts[] | Error>> {
    const run = this.turn.then(() => this.readManyNow(nsids));
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async readManyNow(nsids: number[]): Promise<Map<number, LinkFacts[] | Error>> {
    const out = new Map<number, LinkFacts[] | Error>();
    let next = 0;
    const worker = async (sock: RtSocket) => {
      while (next < nsids.length) {
        const nsid = nsids[next++]!;
        try {
          out.set(nsid, await this.dump(sock, nsid));
        } catch (err) {
          out.set(nsid, err as Error);
        }
      }
    };
    await Promise.all(this.sockets.map(worker));
    return out;
  }

  private async dump(sock: RtSocket, nsid: number): Promise<LinkFacts[]> {
    return (await dumpLinks(sock.socket, nsid, sock.port)).map(slotLink);
  }

  close(): void {
    for (const s of this.sockets) s.socket.close();
    this.sockets.length = 0;
  }
}

/** Parses `ip -j link show` (any iproute2 version: only ifindex, ifname, flags and operstate are used). Never throws. */
export function parseIpLinkJson(output: string): LinkFacts[] | ParseError {
  let rows: unknown;
  try {
    rows = JSON.parse(output.trim() || '[]');
  } catch (err) {
    return new ParseError(`ip -j link show printed something that is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rows)) return new ParseError('ip -j link show printed JSON that is not a list');
  const out: LinkFacts[] = [];
  for (const r of rows as Record<string, unknown>[]) {
    if (typeof r !== 'object' || r === null || typeof r.ifname !== 'string') return new ParseError('ip -j link show printed a row without ifname');
    const flags = Array.isArray(r.flags) ? r.flags.filter((f): f is string => typeof f === 'string') : [];
    out.push(linkFacts(r.ifname, typeof r.ifindex === 'number' ? r.ifindex : 0, flags, typeof r.operstate === 'string' ? r.operstate : 'UNKNOWN'));
  }
  return out;
}

/** For a namespace without an nsid (not reachable by the dump): one `ip -n NAME` process. Rare on real slots. */
export async function readLinksByName(netns: string): Promise<LinkFacts[]> {
  const { stdout } = await run('ip', ['-n', netns, '-j', 'link', 'show'], { timeout: 5000 });
  const links = parseIpLinkJson(stdout);
  if (links instanceof ParseError) throw links;
  return links;
}

/** A slot namespace to read: its inode from the listing (checked against the one entered), its nsid when known. */
export interface SlotToRead {
  name: string;
  inode?: number;
  /** undefined: not read yet (asked here only if the other way is needed) */
  nsid?: number | null;
}

/**
 * The one way vmgate reads slots' links (snapshot, cleanup; the gate's GateHost reads by nsid, events need them):
 * from inside each namespace (inside-links.ts), else, where python3 cannot run or may not enter, from the host: one
 * netlink dump per namespace that has an nsid (4 sockets in parallel), `ip -n` for one without. Per name: its
 * links, or the Error that says why they could not be read.
 */
export async function readSlotLinks(slots: SlotToRead[], dir = NETNS_DIR): Promise<Map<string, LinkFacts[] | Error>> {
  const out = new Map<string, LinkFacts[] | Error>();
  const byName = new Map(slots.map((s) => [s.name, s]));
  for (const [name, r] of await readSlotLinksEntered(slots, dir)) out.set(name, enteredAsListed(r, byName.get(name)?.inode));
  return out;
}

/** What was read of one slot: its links, and the inode of the namespace they were read in (null: not known). */
export interface EnteredLinks {
  inode: number | null;
  links: LinkFacts[] | Error;
}

/** The links read, where they were read in the namespace listed (same inode); else why not. */
export function enteredAsListed(r: EnteredLinks, listedInode: number | undefined): LinkFacts[] | Error {
  if (listedInode !== undefined && r.inode !== null && r.inode !== listedInode)
    return new Error(`it was deleted and made again while vmgate read it (inode ${listedInode} listed, ${r.inode} read)`);
  return r.links;
}

/** readSlotLinks before the listing's inodes are known (the snapshot starts reading while it lists). */
export async function readSlotLinksEntered(slots: SlotToRead[], dir = NETNS_DIR): Promise<Map<string, EnteredLinks>> {
  const out = new Map<string, EnteredLinks>();
  const inside = await readLinksInside(
    slots.map((s) => s.name),
    dir,
  ).catch(() => null);
  const rest: SlotToRead[] = [];
  for (const s of slots) {
    const r = inside?.get(s.name);
    if (!r || r.refused) rest.push(s);
    else out.set(s.name, r);
  }
  if (rest.length > 0) for (const [name, links] of await readFromHost(rest, dir)) out.set(name, { inode: null, links });
  return out;
}

async function readFromHost(slots: SlotToRead[], dir: string): Promise<Map<string, LinkFacts[] | Error>> {
  const out = new Map<string, LinkFacts[] | Error>();
  const unknown = slots.filter((s) => s.nsid === undefined).map((s) => s.name);
  const asked = unknown.length > 0 ? await readNsids(unknown, dir).catch(() => new Map<string, number | null>()) : new Map<string, number | null>();
  const nsidOf = (s: SlotToRead) => (s.nsid === undefined ? (asked.get(s.name) ?? null) : s.nsid);
  const withId = slots.filter((s) => nsidOf(s) !== null);
  if (withId.length > 0) {
    const reader = new LinkReader(Math.min(4, withId.length));
    try {
      const dumps = await reader.readMany(withId.map((s) => nsidOf(s)!));
      for (const s of withId) out.set(s.name, dumps.get(nsidOf(s)!) ?? new Error('no answer'));
    } finally {
      reader.close();
    }
  }
  for (const s of slots.filter((x) => nsidOf(x) === null)) {
    try {
      out.set(s.name, await readLinksByName(s.name));
    } catch (err) {
      out.set(s.name, new Error((err as Error).message.split('\n')[0]));
    }
  }
  return out;
}
