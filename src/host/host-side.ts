import { readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { readFirewall } from './firewall.js';
import { createNetlink } from './netlink.js';
import { dumpLinks, getLinkByName } from './links.js';
import { readNsidsDirect } from './nsids.js';
import { ParseError } from './parse-error.js';
import type { ProcessEntry } from './proc-table.js';
import { run } from './run-ip.js';
import type { HostLink, HostRoute, HostSideFacts, ProcessRef } from './types.js';
export type { HostLink, HostRoute, HostSideFacts } from './types.js';

/** Every link of the host namespace (one RTM_GETLINK dump, no process; only name and peer nsid decoded). */
export async function readHostLinks(): Promise<HostLink[]> {
  const sock = createNetlink(0);
  try {
    return (await dumpLinks(sock, null)).map((m) => ({ name: m.name, linkNetnsid: m.linkNetnsid }));
  } finally {
    sock.close();
  }
}

const SYS_NET = '/sys/class/net';
/** links of vmgate's namespace as sysfs names them and netlink must confirm (same name, same ifindex) */
const SYSFS_CONFIRMED = 2;
/** peers asked one link at a time at most; more: the one dump costs less */
const PEERS_ASKED_MAX = 256;

/**
 * The host's links by name, from a listing of /sys/class/net, with the peer's nsid asked (RTM_GETLINK by name) only
 * for the links `peerOf` names; every other link's peer is left unasked (undefined). A dump lists every link in full
 * and, for each veth whose peer is in another namespace, the kernel walks the host's whole nsid list
 * (peernet2id): at 10,000 slots ~1.6 s of kernel time and ~15 MB of received messages per read; a listing costs
 * neither. sysfs shows the namespace it was mounted in, which may not be vmgate's: unless SYSFS_CONFIRMED of its
 * links are vmgate's own by netlink, or when too many peers are wanted, the dump is read instead (null here).
 */
export async function readHostLinksByName(peerOf: (name: string) => boolean, sysNet = SYS_NET): Promise<HostLink[] | null> {
  let names: string[];
  try {
    names = await readdir(sysNet);
  } catch {
    return null;
  }
  const sample = names.filter((n) => n !== 'lo').slice(0, SYSFS_CONFIRMED);
  const asked = new Set(names.filter(peerOf));
  // only lo listed: nothing to confirm sysfs by (and a dump of one link costs nothing)
  if (sample.length === 0 || asked.size > PEERS_ASKED_MAX) return null;
  const sock = createNetlink(0);
  try {
    for (const name of sample) {
      const l = await getLinkByName(sock, name);
      if (l === null || String(l.ifindex) !== readFileSync(`${sysNet}/${name}/ifindex`, 'latin1').trim()) return null;
    }
    const peers = new Map<string, number | null>();
    const wanted = [...asked];
    for (let i = 0; i < wanted.length; i += 64) {
      const chunk = wanted.slice(i, i + 64);
      const got = await Promise.all(chunk.map((n) => getLinkByName(sock, n)));
      // a link gone since the listing is left out, as a dump a moment later would leave it out
      chunk.forEach((n, j) => {
        const l = got[j];
        if (l) peers.set(n, l.linkNetnsid);
      });
    }
    const out: HostLink[] = [];
    for (const name of names) {
      if (!asked.has(name)) out.push({ name, linkNetnsid: undefined });
      else if (peers.has(name)) out.push({ name, linkNetnsid: peers.get(name)! });
    }
    return out;
  } catch {
    return null;
  } finally {
    sock.close();
  }
}

/** The host's links: by name when `peerOf` says whose peers matter (reports, the gate), else the whole dump. */
async function readHostLinksFor(peerOf?: (name: string) => boolean): Promise<HostLink[]> {
  return (peerOf && (await readHostLinksByName(peerOf).catch(() => null))) ?? readHostLinks();
}

/** Parses `ip -j -4 route show`. Never throws. */
export function parseIpRouteJson(output: string): HostRoute[] | ParseError {
  let rows: unknown;
  try {
    rows = JSON.parse(output.trim() || '[]');
  } catch (err) {
    return new ParseError(`ip -j route printed something that is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(rows)) return new ParseError('ip -j route printed JSON that is not a list');
  const out: HostRoute[] = [];
  for (const r of rows as Record<string, unknown>[]) {
    if (typeof r !== 'object' || r === null || typeof r.dst !== 'string') return new ParseError('ip -j route printed a row without dst');
    out.push({ dst: r.dst, dev: typeof r.dev === 'string' ? r.dev : null, gateway: typeof r.gateway === 'string' ? r.gateway : null });
  }
  return out;
}

export async function readHostRoutes(): Promise<HostRoute[]> {
  const r = await run('ip', ['-j', '-4', 'route', 'show', 'table', 'main'], { timeout: 5000 });
  const routes = parseIpRouteJson(r.stdout);
  if (routes instanceof ParseError) throw routes;
  return routes;
}

/** The interface of the first IPv4 default route that has a gateway (how the orchestrator picks it), or null. */
export function defaultGateway(routes: HostRoute[] | null): string | null {
  return routes?.find((r) => r.dst === 'default' && r.gateway !== null && r.dev !== null)?.dev ?? null;
}

/**
 * Processes inside namespaces that have no name, by the nsid the host gives those namespaces (a veth's peer
 * names its namespace by nsid). Asked once per such namespace, through one of its processes.
 */
export async function unnamedNamespaceHolders(procs: ProcessEntry[], namedInodes: ReadonlySet<number>): Promise<Map<number, ProcessRef[]>> {
  let home = 0;
  try {
    home = statSync('/proc/self/ns/net').ino;
  } catch {
    /* an unreadable own namespace: every process is asked */
  }
  const byInode = new Map<number, ProcessEntry[]>();
  for (const p of procs) {
    for (const ino of p.netnsInodes) {
      if (ino === home || namedInodes.has(ino)) continue;
      const list = byInode.get(ino);
      if (list) list.push(p);
      else byInode.set(ino, [p]);
    }
  }
  const out = new Map<number, ProcessRef[]>();
  if (byInode.size === 0) return out;
  const asked = [...byInode.values()].map((list) => `${list[0]!.pid}/ns/net`);
  const ids = await readNsidsDirect(asked, '/proc');
  [...byInode.values()].forEach((list, i) => {
    const id = ids.get(asked[i]!);
    if (typeof id === 'number')
      out.set(
        id,
        list.map((p) => ({ pid: p.pid, comm: p.comm })),
      );
  });
  return out;
}

/**
 * Links, routes and firewall rules of the host namespace, and who is inside its unnamed namespaces. `peerOf`: the
 * links whose peer namespace the caller will look at (veths of slots without a named namespace); without it, every
 * link's peer is read (the dump: what reclaim acts on).
 */
export async function readHostSide(procs: ProcessEntry[], namedInodes: ReadonlySet<number>, peerOf?: (name: string) => boolean): Promise<HostSideFacts> {
  const [links, routes, firewall, unnamedHolders] = await Promise.all([
    readHostLinksFor(peerOf).catch((err: Error) => err),
    readHostRoutes().catch((err: Error) => err),
    readFirewall(),
    unnamedNamespaceHolders(procs, namedInodes).catch(() => new Map<number, ProcessRef[]>()),
  ]);
  return {
    links: links instanceof Error ? null : links,
    ...(links instanceof Error ? { linksError: firstLine(links.message) } : {}),
    routes: routes instanceof Error ? null : routes,
    ...(routes instanceof Error ? { routesError: firstLine(routes.message) } : {}),
    firewall,
    unnamedHolders,
  };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
