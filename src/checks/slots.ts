import type { HostConfig } from '../config/host-config.js';
import type { HostFacts, NamespaceFacts, ProcessRef, TapHolder, VisibilityFacts } from '../host/types.js';
import { INIT_PID_NS_INODE } from '../host/visibility.js';
import { judgeSlotUse, type SlotUseFacts } from './slot-use.js';
import { inNaturalOrder } from './natural-order.js';

/** unknown: a fact needed to call the slot unused could not be read; never a leftover, never deleted */
export type SlotState = 'active' | 'starting' | 'idle' | 'unknown';

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
  /** the nsfs inode's change time: with inode, tells a re-created namespace from the one judged */
  createdAtMs: number;
  /** undefined: not read (inventory without --nsids) */
  nsid: number | null | undefined;
  inode: number;
  processes: ProcessRef[];
  fdHolders: ProcessRef[];
  taps: TapView[];
  linkError?: string;
  /** why the state is unknown */
  unknownReason?: string;
}

export interface OrphanVmm extends TapHolder {
  netns: string;
  tap: string;
}

export interface SlotsView {
  /** when the facts were read (serve: when the pass over /proc began; a link event after it is newer) */
  takenAtMs: number;
  /** why no slot can be called unused (vmgate cannot see the host), or null */
  blind: string | null;
  orchestratorRunning: boolean;
  orchestrators: ProcessRef[];
  slots: SlotView[];
  orphans: OrphanVmm[];
}

/** a tap nobody holds (most): one frozen empty list shared instead of one per slot */
const NO_HOLDERS = Object.freeze([]) as unknown as TapHolder[];

/** The configured tap, plus any other interface of the namespace that a process has attached. */
function tapsOf(ns: NamespaceFacts, tapName: string): TapView[] {
  const names = new Set([tapName, ...Object.keys(ns.tapHolders)]);
  const out: TapView[] = [];
  for (const name of names) {
    const link = ns.links?.find((l) => l.name === name);
    if (!link) continue;
    out.push({ name, adminUp: link.adminUp, carrier: link.carrier, operstate: link.operstate, flags: link.flags, holders: ns.tapHolders[name] ?? NO_HOLDERS });
  }
  // an array pushed to once keeps room for 17 (152 bytes; the gate keeps one per slot): a copy holds only what is in it
  return out.slice();
}

/** The facts the slot-use rule reads, from one namespace's facts. */
export function slotUseFacts(ns: NamespaceFacts, tap: string, blind: string | null, visibility: VisibilityFacts | undefined): SlotUseFacts {
  return {
    tap,
    name: ns.name,
    inside: ns.processes,
    tapHolders: ns.tapHolders,
    fdHolders: ns.fdHolders,
    ...(ns.socketHolders ? { socketHolders: ns.socketHolders } : {}),
    ...(ns.socketsUnreadable ? { socketsUnreadable: ns.socketsUnreadable } : {}),
    links: ns.links,
    ...(ns.linkError !== undefined ? { linkError: ns.linkError } : {}),
    nsfs: ns.nsfs,
    ...(ns.symlink ? { symlink: true } : {}),
    ...(visibility?.unplacedTunFds ? { unplacedTunFds: visibility.unplacedTunFds } : {}),
    blind,
    ...(visibility ? { visibility } : {}),
  };
}

/** Why no slot at all can be called unused on this host, or null when vmgate sees enough. */
export function blindness(v: VisibilityFacts | undefined): string | null {
  if (!v) return null;
  if (v.errors.length > 0) return v.errors.join('; ');
  if (v.pidNamespaceInode !== INIT_PID_NS_INODE) {
    return v.pidNamespaceInode === null
      ? 'vmgate cannot read its own PID namespace'
      : "vmgate runs in its own PID namespace and cannot see the host's processes";
  }
  return null;
}

export function classifySlot(
  ns: NamespaceFacts,
  config: HostConfig,
  nowMs: number,
  orchestratorRunning: boolean,
  blind: string | null = null,
  visibility?: VisibilityFacts,
): SlotView {
  const taps = tapsOf(ns, config.tap);
  const ageMs = Math.max(0, nowMs - ns.createdAtMs);
  const use = judgeSlotUse(slotUseFacts(ns, config.tap, blind, visibility));
  const unknownReason = use.use === 'unknown' ? use.reason : null;
  const state: SlotState = use.use === 'active' ? 'active' : use.use === 'unknown' ? 'unknown' : ageMs < config.minAgeMs ? 'starting' : 'idle';
  return {
    name: ns.name,
    state,
    leftover: state === 'idle' && !orchestratorRunning,
    ageSeconds: Math.floor(ageMs / 1000),
    createdAtMs: ns.createdAtMs,
    nsid: ns.nsid,
    inode: ns.inode,
    processes: ns.processes,
    fdHolders: ns.fdHolders,
    taps,
    ...(ns.linkError !== undefined ? { linkError: ns.linkError } : {}),
    ...(state === 'unknown' ? { unknownReason: unknownReason! } : {}),
  };
}

export function classifySlots(facts: HostFacts, config: HostConfig): SlotsView {
  const orchestratorRunning = facts.orchestrators.length > 0;
  const owned = facts.namespaces.filter((n) => n.owned);
  const blind = blindness(facts.visibility);
  const slots = owned.map((n) => classifySlot(n, config, facts.takenAtMs, orchestratorRunning, blind, facts.visibility));
  return slotsView(facts.orchestrators, owned, slots, facts.takenAtMs, blind);
}

/** The view from slots already judged (serve judges each slot again only when it changed). */
export function slotsView(
  orchestrators: ProcessRef[],
  owned: NamespaceFacts[],
  slots: SlotView[],
  takenAtMs: number,
  blind: string | null,
  /** false: the slots come in natural order already (serve keeps them so) */
  sort = true,
): SlotsView {
  const orchestratorRunning = orchestrators.length > 0;
  const orphans: OrphanVmm[] = [];
  if (!orchestratorRunning) {
    for (const n of owned) {
      for (const [tap, holders] of Object.entries(n.tapHolders)) {
        for (const h of holders) orphans.push({ ...h, netns: n.name, tap });
      }
    }
  }
  return { takenAtMs, blind, orchestratorRunning, orchestrators, slots: sort ? inNaturalOrder(slots, (s) => s.name) : slots, orphans };
}

/** One-word tap state for tables and messages: no-tap, admin-down, carrier, no-carrier. */
export function tapState(slot: SlotView, tapName: string): string {
  return linkState(
    slot.taps.find((x) => x.name === tapName),
    !slot.linkError,
  );
}

/** The same word from a link (undefined: not there, or, when the links could not be read, unreadable). */
export function linkState(link: { adminUp: boolean; carrier: boolean } | undefined, linksRead: boolean): string {
  if (!link) return linksRead ? 'no-tap' : 'unreadable';
  if (!link.adminUp) return 'admin-down';
  return link.carrier ? 'carrier' : 'no-carrier';
}
