import { closeSync, constants, openSync } from 'node:fs';
import { createNetlink } from './netlink.js';

export const RTM_NEWNSID = 88;
export const RTM_GETNSID = 90;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;

type Socket = ReturnType<typeof createNetlink>;

/** struct rtgenmsg (AF_UNSPEC, padded to 4) + NETNSA_FD, and NETNSA_NSID when given. */
export function nsidMessage(fd: number, nsid?: number): Buffer {
  const b = Buffer.alloc(nsid === undefined ? 12 : 20);
  b.writeUInt16LE(8, 4);
  b.writeUInt16LE(NETNSA_FD, 6);
  b.writeUInt32LE(fd, 8);
  if (nsid !== undefined) {
    b.writeUInt16LE(8, 12);
    b.writeUInt16LE(NETNSA_NSID, 14);
    b.writeInt32LE(nsid, 16);
  }
  return b;
}

/** NETNSA_NSID of an RTM_NEWNSID reply; null for NETNSA_NSID_NOT_ASSIGNED (-1) or none. */
export function parseNsidReply(data: Uint8Array): number | null {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let off = 4; off + 4 <= b.length;) {
    const len = b.readUInt16LE(off);
    const type = b.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > b.length) break;
    if (type === NETNSA_NSID && len >= 8) {
      const id = b.readInt32LE(off + 4);
      return id < 0 ? null : id;
    }
    off += (len + 3) & ~3;
  }
  return null;
}

/**
 * Each name's nsid in the host namespace, asked of the kernel directly (RTM_GETNSID with an fd on the
 * namespace): no process, and a FIFO or plain file in /run/netns cannot hang it (opened non-blocking; the
 * kernel answers EINVAL for what is not a namespace). A name that could not be asked maps to an Error.
 */
export async function readNsidsDirect(names: string[], dir: string): Promise<Map<string, number | null | Error>> {
  const out = new Map<string, number | null | Error>();
  if (names.length === 0) return out;
  const sock = createNetlink(0);
  try {
    // requests are not dumps: many may be in flight on one socket (replies matched by sequence number)
    for (let i = 0; i < names.length; i += 64) {
      const chunk = names.slice(i, i + 64);
      const ids = await Promise.all(chunk.map((name) => askNsid(sock, `${dir}/${name}`)));
      chunk.forEach((name, j) => out.set(name, ids[j]!));
    }
  } finally {
    sock.close();
  }
  return out;
}

async function askNsid(sock: Socket, path: string): Promise<number | null | Error> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return err as Error;
  }
  try {
    const [msgs] = await sock.request(RTM_GETNSID, nsidMessage(fd), { timeout: 2000 });
    const reply = msgs.find((m) => m.type === RTM_NEWNSID);
    return reply ? parseNsidReply(reply.data) : null;
  } catch (err) {
    return err as Error;
  } finally {
    closeSync(fd);
  }
}
