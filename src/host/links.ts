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
