import { availableParallelism } from 'node:os';
import { python3 } from './fd-probe.js';
import { flagBitsLabels, linkFacts, operstateName } from './link-flags.js';
import { run } from './run-ip.js';
import type { LinkFacts } from './types.js';

/**
 * Reads each named namespace's links from inside it: one short python3 process enters the namespaces one after
 * another (setns on an O_NOFOLLOW|O_NONBLOCK fd of /run/netns/NAME) and dumps the links with a route socket made
 * there. Read-only: nothing is created in a namespace but that socket, closed at once. The dump asks
 * RTEXT_FILTER_SKIP_STATS (IFLA_EXT_MASK 8): no counters, so a slot's three links come in one message batch.
 *
 * Why not the host namespace's targeted dump (links.ts): at 10,000 slots it costs 3.8 s, nearly all in the kernel.
 * A dump asked from the host numbers each veth peer as the host sees it, and the kernel finds that number by
 * walking the host's nsid table (one entry per slot) for every slot's veth: quadratic. Asked from inside, the
 * table walked is the slot's own (one entry). Reading the nsids themselves walks the same table once per name.
 *
 * Each answer carries the inode of the namespace entered: a name deleted and made again between the listing and
 * the read is not taken for the one listed.
 */
const READER = String.raw`
import ctypes, json, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
HDR = struct.Struct('=IHHII')
TIMEOUT = struct.pack('ll', 5, 0)
REQ = HDR.pack(40, 18, 0x301, 1, 0) + bytes(16) + struct.pack('=HHI', 8, 29, 8)
def dump():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, TIMEOUT)
    try:
        s.send(REQ)
        out = []
        while True:
            b = s.recv(65536)
            off = 0
            while off + 16 <= len(b):
                ln, typ = struct.unpack_from('=IH', b, off)
                if ln < 16 or typ == 3:
                    return out
                if typ == 2:
                    raise OSError(-struct.unpack_from('=i', b, off + 16)[0], 'link dump refused')
                if typ == 16:
                    idx, flags = struct.unpack_from('=iI', b, off + 20)
                    name, oper, a = '', None, off + 32
                    while a + 4 <= off + ln:
                        l, t = struct.unpack_from('=HH', b, a)
                        if l < 4:
                            break
                        t &= 0x3fff
                        if t == 3:
                            name = b[a + 4:a + l].split(b'\0', 1)[0].decode('latin1')
                        elif t == 16 and l >= 5:
                            oper = b[a + 4]
                        if name and oper is not None:
                            break
                        a += (l + 3) & ~3
                    out.append([idx, flags, name, oper])
                off += (ln + 3) & ~3
    finally:
        s.close()
def read(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        return [None, e.strerror]
    try:
        ino = os.fstat(fd).st_ino
        if libc.setns(fd, 0x40000000) != 0:
            e = ctypes.get_errno()
            return [ino, ('EPERM ' if e == 1 else '') + 'cannot enter it: ' + os.strerror(e)]
    finally:
        os.close(fd)
    try:
        return [ino, dump()]
    except OSError as e:
        return [ino, e.strerror or str(e) or 'link dump failed']
d = sys.argv[1]
sys.stdout.write(json.dumps([read(d + '/' + n) for n in json.load(sys.stdin)]))
`;

export interface InsideRead {
  /** the inode of the namespace entered; null when its name could not be opened */
  inode: number | null;
  links: LinkFacts[] | Error;
  /** setns was refused (EPERM): read this one from the host namespace instead */
  refused?: true;
}

/** names per process past which a second process shares the reading (each costs ~0.1 ms per name here) */
const SPLIT_AT = 1000;

/**
 * Links of each name, read from inside (see READER). Throws when the reader could not run at all (no python3, a
 * timeout, an answer that is not its answer): the caller then reads the other way. At most two processes at once,
 * each bounded by a timeout that grows with its share of names.
 */
export async function readLinksInside(names: string[], dir: string): Promise<Map<string, InsideRead>> {
  const out = new Map<string, InsideRead>();
  if (names.length === 0) return out;
  const parts = names.length > SPLIT_AT && availableParallelism() > 1 ? 2 : 1;
  const size = Math.ceil(names.length / parts);
  const shares = Array.from({ length: parts }, (_, i) => names.slice(i * size, (i + 1) * size));
  const answers = await Promise.all(shares.map((share) => readShare(share, dir)));
  shares.forEach((share, i) => share.forEach((name, j) => out.set(name, answers[i]![j]!)));
  return out;
}

async function readShare(names: string[], dir: string): Promise<InsideRead[]> {
  const r = await run(python3(), ['-c', READER, dir], { input: JSON.stringify(names), timeout: 10_000 + 2 * names.length, reject: false });
  if (r.exitCode !== 0)
    throw new Error(`the python3 link reader ${r.exitCode === undefined ? 'did not finish' : `failed: ${lastLine(r.stderr) || `exit ${r.exitCode}`}`}`);
  let rows: unknown;
  try {
    rows = JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`the python3 link reader printed something that is not its answer: ${(err as Error).message}`);
  }
  if (!Array.isArray(rows) || rows.length !== names.length)
    throw new Error(`the python3 link reader gave ${Array.isArray(rows) ? rows.length : 'no'} answers to ${names.length} names`);
  return rows.map((row) => insideRead(row));
}

function insideRead(row: unknown): InsideRead {
  const [inode, what] = Array.isArray(row) ? (row as unknown[]) : [];
  const ino = typeof inode === 'number' ? inode : null;
  if (typeof what === 'string')
    return what.startsWith('EPERM ') ? { inode: ino, links: new Error(what.slice(6)), refused: true } : { inode: ino, links: new Error(what) };
  if (!Array.isArray(what)) return { inode: ino, links: new Error('the python3 link reader gave no answer for it') };
  const links: LinkFacts[] = [];
  for (const l of what as unknown[]) {
    const [ifindex, flags, name, oper] = Array.isArray(l) ? (l as unknown[]) : [];
    if (typeof ifindex !== 'number' || typeof flags !== 'number' || typeof name !== 'string')
      return { inode: ino, links: new Error('the python3 link reader gave a link it could not decode') };
    links.push(linkFacts(name, ifindex, flagBitsLabels(flags), operstateName(typeof oper === 'number' ? oper : undefined)));
  }
  return { inode: ino, links };
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}
