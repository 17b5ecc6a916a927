import { statSync } from 'node:fs';
import { readFirewall } from './firewall.js';
import { createNetlink } from './netlink.js';
import { dumpLinks } from './links.js';
import { readNsidsDirect } from './nsids.js';
import { ParseError } from './parse-error.js';
import type { ProcessEntry } from './proc-table.js';
import { run } from './run-ip.js';
import type { HostLink, HostRoute, HostSideFacts, ProcessRef } from './types.js';
export type { HostLink, HostRoute, HostSideFacts } from './types.js';

/** Every link of the host namespace (one RTM_GETLINK dump, no process; only name, kind and peer nsid decoded). */
export async function readHostLinks(): Promise<HostLink[]> {
  const sock = createNetlink(0);
  try {
    return (await dumpLinks(sock, null)).map((m) => ({ name: m.name, ifindex: m.ifindex, kind: m.kind, linkNetnsid: m.linkNetnsid }));
  } finally {
    sock.close();
  }
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

/** Links, routes and firewall rules of the host namespace, and who is inside its unnamed namespaces. */
export async function readHostSide(procs: ProcessEntry[], namedInodes: ReadonlySet<number>): Promise<HostSideFacts> {
  const [links, routes, firewall, unnamedHolders] = await Promise.all([
    readHostLinks().catch((err: Error) => err),
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
