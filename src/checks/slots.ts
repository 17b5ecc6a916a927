import type { HostConfig } from '../config/host-config.js';
import type { HostFacts, NamespaceFacts, ProcessRef, TapHolder } from '../host/types.js';

export type SlotState = 'active' | 'starting' | 'idle';

export interface TapView {
  name: string;
  adminUp: boolean;
  carrier: boolean;
  operstate: string;
  flags: string[];
  holders: TapHolder[];
}

export interface SlotView {
  name: string;
  state: SlotState;
  /** idle while no orchestrator runs */
  leftover: boolean;
  ageSeconds: number;
  nsid: number | null;
  inode: number;
  processes: ProcessRef[];
  fdHolders: ProcessRef[];
  taps: TapView[];
  linkError?: string;
}

export interface OrphanVmm extends TapHolder {
  netns: string;
  tap: string;
}

export interface SlotsView {
  orchestratorRunning: boolean;
  orchestrators: ProcessRef[];
  slots: SlotView[];
  orphans: OrphanVmm[];
}

/** The configured tap, plus any other interface of the namespace that a process has attached. */
function tapsOf(ns: NamespaceFacts, tapName: string): TapView[] {
  const names = new Set([tapName, ...Object.keys(ns.tapHolders)]);
  const out: TapView[] = [];
  for (const name of names) {
    const link = ns.links?.find((l) => l.name === name);
    if (!link) continue;
    out.push({ name, adminUp: link.adminUp, carrier: link.carrier, operstate: link.operstate, flags: link.flags, holders: ns.tapHolders[name] ?? [] });
  }
  return out;
}

export function classifySlot(ns: NamespaceFacts, config: HostConfig, nowMs: number, orchestratorRunning: boolean): SlotView {
  const taps = tapsOf(ns, config.tap);
  const anyHolder = Object.values(ns.tapHolders).some((h) => h.length > 0);
  const ageMs = Math.max(0, nowMs - ns.createdAtMs);
  const state: SlotState =
    ns.processes.length > 0 || anyHolder || ns.fdHolders.length > 0 ? 'active' : ageMs < config.minAgeMs ? 'starting' : 'idle';
  return {
    name: ns.name,
    state,
    leftover: state === 'idle' && !orchestratorRunning,
    ageSeconds: Math.floor(ageMs / 1000),
    nsid: ns.nsid,
    inode: ns.inode,
    processes: ns.processes,
    fdHolders: ns.fdHolders,
    taps,
    ...(ns.linkError !== undefined ? { linkError: ns.linkError } : {}),
  };
}

export function classifySlots(facts: HostFacts, config: HostConfig): SlotsView {
  const orchestratorRunning = facts.orchestrators.length > 0;
  const owned = facts.namespaces.filter((n) => n.owned);
  const slots = owned.map((n) => classifySlot(n, config, facts.takenAtMs, orchestratorRunning));
  const orphans: OrphanVmm[] = [];
  if (!orchestratorRunning) {
    for (const n of owned) {
      for (const [tap, holders] of Object.entries(n.tapHolders)) {
        for (const h of holders) orphans.push({ ...h, netns: n.name, tap });
      }
    }
  }
  slots.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  return { orchestratorRunning, orchestrators: facts.orchestrators, slots, orphans };
}

/** One-word tap state for tables and messages: no-tap, admin-down, carrier, no-carrier. */
export function tapState(slot: SlotView, tapName: string): string {
  const t = slot.taps.find((x) => x.name === tapName);
  if (!t) return slot.linkError ? 'unreadable' : 'no-tap';
  if (!t.adminUp) return 'admin-down';
  return t.carrier ? 'carrier' : 'no-carrier';
}
