import type { PressureFacts } from './pressure.js';
import { existsSync, statSync } from 'node:fs';
import { run } from './run-ip.js';
import { parseIpLinkJson } from './links.js';
import { NETNS_DIR, readNsids } from './named-namespaces.js';
import { namespaceMounts, readProcessDetails, type ProcessDetails } from './process-details.js';
import { readProcessTable, type ProcessEntry } from './proc-table.js';
import type { LinkFacts, ProcessRef } from './types.js';

export interface TapDetails {
  name: string;
  exists: boolean;
  adminUp: boolean;
  carrier: boolean;
  operstate: string;
  flags: string[];
  holders: (ProcessRef & { fd: number })[];
  /** processes inside with /dev/net/tun open but attached to nothing: "an open fd is not enough" */
  unattached: (ProcessRef & { fd: number })[];
}

export interface GuestProbe {
  address: string;
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

export interface SlotDetails {
  netns: string;
  exists: boolean;
  nsid: number | null;
  ageSeconds: number | null;
  processes: ProcessDetails[];
  /** other mounts of this namespace, and processes holding it open as an fd */
  mounts: string[];
  fdHolders: ProcessRef[];
  tap: TapDetails;
  vmm: ProcessDetails | null;
  interfaces: { name: string; flags: string[]; addresses: string[] }[];
  defaultRoute: string | null;
  /** the kernel's shared tables when the slot was looked at (a full neighbour table cuts every slot's network) */
  pressure?: PressureFacts;
  guest?: GuestProbe;
}

/**
 * Where the processes come from: the whole process table (default: also finds processes outside that hold the
 * namespace by an fd), or only the processes known to be inside (serve, after a failed wait: never a whole-host
 * pass per diagnosis; fd holders outside are then not looked for).
 */
export type ProcessSource = (netnsInode: number) => ProcessEntry[];

/**
 * What a caller that already knows can hand in. links: the namespace's links as followed by the gate (serve):
 * then no `ip` child runs at all, and addresses and the default route are not looked at (no verdict uses them).
 */
export interface SlotSources {
  processes?: ProcessSource;
  links?: (netns: string) => LinkFacts[] | null;
}

/** Everything the incident's operator looked up by hand, for one slot. A few processes: this is one namespace. */
export async function readSlotDetails(netns: string, tapName: string, dir = NETNS_DIR, sources: SlotSources = {}): Promise<SlotDetails> {
  const path = `${dir}/${netns}`;
  const empty: TapDetails = { name: tapName, exists: false, adminUp: false, carrier: false, operstate: 'UNKNOWN', flags: [], holders: [], unattached: [] };
  if (!existsSync(path)) {
    return {
      netns,
      exists: false,
      nsid: null,
      ageSeconds: null,
      processes: [],
      mounts: [],
      fdHolders: [],
      tap: empty,
      vmm: null,
      interfaces: [],
      defaultRoute: null,
    };
  }
  const st = statSync(path);
  const known = sources.links?.(netns) ?? null;
  const notAsked = { exitCode: 1, stdout: '' };
  const [nsids, addrs, routes] = await Promise.all([
    readNsids([netns], dir),
    known ? notAsked : run('ip', ['-n', netns, '-j', 'addr', 'show'], { reject: false, timeout: 5000 }),
    known ? notAsked : run('ip', ['-n', netns, '-j', 'route', 'show', 'default'], { reject: false, timeout: 5000 }),
  ]);
  const procs = sources.processes ? sources.processes(st.ino) : readProcessTable().processes;
  const inside = procs.filter((p) => p.netnsInodes.includes(st.ino));
  const parsedLinks = known ?? (addrs.exitCode === 0 ? parseIpLinkJson(addrs.stdout) : []);
  const links = Array.isArray(parsedLinks) ? parsedLinks : [];
  const addrRows =
    !known && Array.isArray(parsedLinks) ? (safeJson(addrs.stdout) as { ifname: string; addr_info?: { local: string; prefixlen: number }[] }[]) : [];
  const link = links.find((l) => l.name === tapName);
  const tap: TapDetails = link
    ? {
        ...empty,
        exists: true,
        adminUp: link.adminUp,
        carrier: link.carrier,
        operstate: link.operstate,
        flags: link.flags,
        holders: inside.flatMap((p) => p.tunFds.filter((t) => t.iff === tapName).map((t) => ({ pid: p.pid, comm: p.comm, fd: t.fd }))),
        unattached: inside.flatMap((p) => p.openTunFds.map((fd) => ({ pid: p.pid, comm: p.comm, fd }))),
      }
    : empty;
  const processes = inside.map((p) => readProcessDetails(p.pid)).filter((p): p is ProcessDetails => p !== null);
  const vmmPid = tap.holders[0]?.pid ?? tap.unattached[0]?.pid ?? processes[0]?.pid;
  const routeRows = routes.exitCode === 0 ? (safeJson(routes.stdout) as { dst: string; gateway?: string; dev?: string }[]) : [];
  const route = routeRows[0];
  return {
    netns,
    exists: true,
    nsid: nsids.get(netns) ?? null,
    ageSeconds: Math.floor((Date.now() - st.ctimeMs) / 1000),
    processes,
    mounts: namespaceMounts(st.ino).filter((m) => m !== path && m !== `/var${path}`),
    fdHolders: procs.filter((p) => !p.netnsInodes.includes(st.ino) && p.netnsFds.includes(st.ino)).map((p) => ({ pid: p.pid, comm: p.comm })),
    tap,
    vmm: vmmPid !== undefined ? readProcessDetails(vmmPid) : null,
    interfaces: links.map((l) => ({
      name: l.name,
      flags: l.flags,
      addresses: (addrRows.find((r) => r.ifname === l.name)?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
    })),
    defaultRoute: route ? [route.gateway ? `via ${route.gateway}` : '', route.dev ? `dev ${route.dev}` : ''].filter(Boolean).join(' ') : null,
  };
}

const PROBE = `const n=require('net');const t0=process.hrtime.bigint();const s=n.connect({host:process.argv[1],port:+process.argv[2]});
const done=(o)=>{process.stdout.write(JSON.stringify(o));process.exit(0)};
s.setTimeout(+process.argv[3],()=>done({ok:false,error:'timeout after '+process.argv[3]+'ms'}));
s.on('connect',()=>done({ok:true,latencyMs:Number(process.hrtime.bigint()-t0)/1e6}));
s.on('error',(e)=>done({ok:false,error:e.code||e.message}));`;

/** A TCP connect from inside the namespace (node itself, entered with ip netns exec), bounded by timeoutMs. */
export async function probeGuest(netns: string, address: string, timeoutMs = 2000): Promise<GuestProbe> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = address.slice(i + 1);
  const r = await run('ip', ['netns', 'exec', netns, process.execPath, '-e', PROBE, host, port, String(timeoutMs)], {
    reject: false,
    timeout: timeoutMs + 3000,
  });
  try {
    return { address, ...(JSON.parse(r.stdout) as { ok: boolean; latencyMs?: number; error?: string }) };
  } catch {
    return { address, ok: false, error: (r.stderr || `probe exited ${r.exitCode}`).split('\n')[0] };
  }
}

/** A JSON list from ip, or an empty one when it printed something else (diagnose only reads; nothing acts on it). */
function safeJson(text: string): unknown[] {
  try {
    const v: unknown = JSON.parse(text || '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'object' && x !== null) : [];
  } catch {
    return [];
  }
}
