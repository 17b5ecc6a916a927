import { createRtNetlink } from './netlink.js';
import { run } from './run-ip.js';
import { flagLabels, linkFacts, operstateName } from './link-flags.js';
import { ParseError } from './parse-error.js';
import type { LinkFacts } from './types.js';

type RtSocket = ReturnType<typeof createRtNetlink>;

/**
 * Reads links of other namespaces from the host namespace without entering them: one RTM_GETLINK dump per
 * namespace with IFLA_TARGET_NETNSID. One socket per concurrent dump (the package cannot run two on one socket).
 */
export class LinkReader {
  private readonly sockets: RtSocket[] = [];

  constructor(parallel = 4) {
    for (let i = 0; i < parallel; i++) this.sockets.push(createRtNetlink());
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
    const msgs = await sock.getLinks({}, { targetNetnsid: nsid });
    return msgs.map((m) =>
      linkFacts(m.attrs.ifname ?? '', m.data.index ?? 0, flagLabels((m.data.flags ?? {}) as Record<string, unknown>), operstateName(m.attrs.operstate)),
    );
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

/**
 * The one way vmgate reads slots' links (snapshot, cleanup; the gate's GateHost uses the same two reads): one
 * netlink dump per namespace that has an nsid (4 sockets in parallel, or the long-lived reader given), `ip -n`
 * for one without. Per name: its links, or the Error that says why they could not be read.
 */
export async function readSlotLinks(slots: { name: string; nsid: number | null }[], shared?: LinkReader): Promise<Map<string, LinkFacts[] | Error>> {
  const out = new Map<string, LinkFacts[] | Error>();
  const withId = slots.filter((s) => s.nsid !== null);
  if (withId.length > 0) {
    const reader = shared ?? new LinkReader(Math.min(4, withId.length));
    try {
      const dumps = await reader.readMany(withId.map((s) => s.nsid!));
      for (const s of withId) out.set(s.name, dumps.get(s.nsid!) ?? new Error('no answer'));
    } finally {
      if (!shared) reader.close();
    }
  }
  for (const s of slots.filter((x) => x.nsid === null)) {
    try {
      out.set(s.name, await readLinksByName(s.name));
    } catch (err) {
      out.set(s.name, new Error((err as Error).message.split('\n')[0]));
    }
  }
  return out;
}
