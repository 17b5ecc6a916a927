import type { HostConfig } from '../config/host-config.js';
import { hostIp, hostIpIndex, hostVethName, slotIndex, vethIndex, type SlotLayout } from '../config/slot-layout.js';
import { defaultGateway } from '../host/host-side.js';
import type { FirewallRule, HostFacts, HostRoute, HostSideFacts, ProcessRef } from '../host/types.js';

/**
 * The rules one E2B v1 slot puts on the host, with the slot's own names replaced: {V} its host veth, {GW} the
 * gateway interface, {HIP} its host IP, {IP} any /32 (the orchestrator's address), {P} any port (all configurable
 * in the orchestrator). A rule is a slot's only when it is exactly one of these: anything else that names a slot's
 * veth or host IP (an operator's own rule) is foreign and never touched.
 */
const SHAPES: { table: string; text: string; count: number }[] = [
  { table: 'filter', text: '-A FORWARD -i {V} -o {GW} -j ACCEPT', count: 1 },
  { table: 'filter', text: '-A FORWARD -i {GW} -o {V} -j ACCEPT', count: 1 },
  { table: 'nat', text: '-A PREROUTING -d {IP} -i {V} -p tcp -m tcp --dport {P} -j REDIRECT --to-ports {P}', count: 3 },
  { table: 'nat', text: '-A PREROUTING -i {V} -p tcp -m tcp --dport {P} -j REDIRECT --to-ports {P}', count: 2 },
  { table: 'nat', text: '-A PREROUTING -i {V} -p tcp -j REDIRECT --to-ports {P}', count: 1 },
  { table: 'nat', text: '-A POSTROUTING -s {HIP} -o {GW} -j MASQUERADE', count: 1 },
];
const SHAPE_KEYS = new Set(SHAPES.map((s) => `${s.table} ${s.text}`));
export const RULES_PER_SLOT = SHAPES.reduce((n, s) => n + s.count, 0);

/** The slot index a rule belongs to, or null when it names none; 'foreign' when it names one but is not its shape. */
export function attributeRule(rule: FirewallRule, layout: SlotLayout, gateway: string | null): number | 'foreign' | null {
  const t = rule.line.split(' ');
  let index: number | null = null;
  let mixed = false;
  const claim = (n: number | null) => {
    if (n === null) return false;
    if (index !== null && index !== n) mixed = true;
    index = n;
    return true;
  };
  const out: string[] = [];
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    const prev = t[i - 1];
    if ((prev === '-i' || prev === '-o') && claim(vethIndex(layout, tok))) out.push('{V}');
    else if ((prev === '-i' || prev === '-o') && gateway !== null && tok === gateway) out.push('{GW}');
    else if ((prev === '-s' || prev === '-d') && tok.endsWith('/32') && claim(hostIpIndex(layout, tok.slice(0, -3)))) out.push('{HIP}');
    else if (prev === '-d' && /^\d+\.\d+\.\d+\.\d+\/32$/.test(tok)) out.push('{IP}');
    else if ((prev === '--dport' || prev === '--to-ports') && /^\d+$/.test(tok)) out.push('{P}');
    else out.push(tok);
  }
  if (index === null) return null;
  if (mixed) return 'foreign';
  return SHAPE_KEYS.has(`${rule.table} ${out.join(' ')}`) ? index : 'foreign';
}

export interface SlotHostParts {
  index: number;
  veth: string;
  vethPresent: boolean;
  /** a route in the main table on the veth or to the host IP */
  routePresent: boolean;
  /** the slot's rules found (copies counted) against RULES_PER_SLOT */
  rules: number;
  expectedRules: number;
  /** extra copies of its rules (the same rule more than once) */
  duplicateRules: number;
}

export interface OrphanedSlotState {
  index: number;
  veth: string;
  hostIp: string | null;
  /** every copy, in the order iptables-save printed them */
  rules: FirewallRule[];
  routes: HostRoute[];
}

export interface UnnamedSlotNamespace {
  index: number;
  veth: string;
  nsid: number | null;
  holders: ProcessRef[];
}

export interface HostStateView {
  /** why host state could not be judged completely: nothing is then orphaned, nothing deleted */
  incomplete: string | null;
  /** the gateway interface used to recognise rules */
  gateway: string | null;
  /** by slot index, for slots with a named namespace */
  slots: Map<number, SlotHostParts>;
  /** slot index -> its namespace's name */
  names: ReadonlyMap<number, string>;
  /** slots with no namespace by name, no veth and no unnamed namespace: their rules and routes are left over */
  orphaned: OrphanedSlotState[];
  /** extra copies of live slots' rules: one per copy beyond the first */
  duplicates: { index: number; rule: FirewallRule; copies: number }[];
  /** slot veths whose peer namespace has no name: something holds the namespace; in use by definition */
  unnamed: UnnamedSlotNamespace[];
  /** rules naming a slot's veth or host IP that are not the layout's shapes: reported, never touched */
  foreign: FirewallRule[];
}

export interface HostStateInput {
  layout: SlotLayout;
  facts: HostSideFacts;
  /** slot index -> its namespace's name, for every named slot namespace */
  namedIndexes: ReadonlyMap<number, string>;
  /** nsids of every named namespace */
  namedNsids: ReadonlySet<number>;
  /** /run/netns could not be read completely (then no slot is known to have no namespace) */
  namesError?: string | null;
}

/** Whose host state is whose: pure, over what host/host-side.ts read. */
export function judgeHostState(inp: HostStateInput): HostStateView {
  const { layout, facts } = inp;
  const gateway = layout.gateway ?? defaultGateway(facts.routes);
  const incomplete =
    inp.namesError ??
    facts.firewall.error ??
    (facts.links === null ? `host links could not be read: ${facts.linksError ?? 'unknown error'}` : null) ??
    (facts.routes === null ? `host routes could not be read: ${facts.routesError ?? 'unknown error'}` : null);
  const rulesOf = new Map<number, FirewallRule[]>();
  const foreign: FirewallRule[] = [];
  for (const r of facts.firewall.rules) {
    const n = attributeRule(r, layout, gateway);
    if (n === 'foreign') foreign.push(r);
    else if (n !== null) (rulesOf.get(n) ?? rulesOf.set(n, []).get(n)!).push(r);
  }
  const vethOf = new Map<number, { nsid: number | null }>();
  for (const l of facts.links ?? []) {
    const n = vethIndex(layout, l.name);
    // a peer not asked (undefined) is one of a slot named when the read began: judged below only if no longer named
    if (n !== null) vethOf.set(n, { nsid: l.linkNetnsid ?? null });
  }
  const routesOf = new Map<number, HostRoute[]>();
  for (const r of facts.routes ?? []) {
    const n = (r.dev !== null ? vethIndex(layout, r.dev) : null) ?? hostIpIndex(layout, r.dst);
    if (n !== null) (routesOf.get(n) ?? routesOf.set(n, []).get(n)!).push(r);
  }
  const slots = new Map<number, SlotHostParts>();
  const duplicates: HostStateView['duplicates'] = [];
  for (const [n] of inp.namedIndexes) {
    const rules = rulesOf.get(n) ?? [];
    const copies = countCopies(rules);
    let dup = 0;
    for (const [, c] of copies) {
      if (c.copies < 2) continue;
      dup += c.copies - 1;
      duplicates.push({ index: n, rule: c.rule, copies: c.copies });
    }
    slots.set(n, {
      index: n,
      veth: hostVethName(layout, n),
      vethPresent: vethOf.has(n),
      routePresent: (routesOf.get(n) ?? []).length > 0,
      rules: rules.length,
      expectedRules: RULES_PER_SLOT,
      duplicateRules: dup,
    });
  }
  const unnamed: UnnamedSlotNamespace[] = [];
  for (const [n, v] of vethOf) {
    if (inp.namedIndexes.has(n) || (v.nsid !== null && inp.namedNsids.has(v.nsid))) continue;
    unnamed.push({ index: n, veth: hostVethName(layout, n), nsid: v.nsid, holders: v.nsid !== null ? (facts.unnamedHolders.get(v.nsid) ?? []) : [] });
  }
  const orphaned: OrphanedSlotState[] = [];
  if (incomplete === null) {
    const candidates = new Set([...rulesOf.keys(), ...routesOf.keys()]);
    for (const n of [...candidates].sort((a, b) => a - b)) {
      if (inp.namedIndexes.has(n) || vethOf.has(n)) continue;
      orphaned.push({ index: n, veth: hostVethName(layout, n), hostIp: hostIp(layout, n), rules: rulesOf.get(n) ?? [], routes: routesOf.get(n) ?? [] });
    }
  }
  return { incomplete, gateway, slots, names: inp.namedIndexes, orphaned, duplicates, unnamed: unnamed.sort((a, b) => a.index - b.index), foreign };
}

function countCopies(rules: FirewallRule[]): Map<string, { rule: FirewallRule; copies: number }> {
  const m = new Map<string, { rule: FirewallRule; copies: number }>();
  for (const r of rules) {
    const k = `${r.backend} ${r.table} ${r.line}`;
    const c = m.get(k);
    if (c) c.copies += 1;
    else m.set(k, { rule: r, copies: 1 });
  }
  return m;
}

/** The host state of a snapshot, judged; null when the layout is none or it was not read. */
export function hostStateOf(facts: HostFacts, config: HostConfig): HostStateView | null {
  if (!config.slotLayout || !facts.hostSide) return null;
  return judgeHostState({
    layout: config.slotLayout,
    facts: facts.hostSide,
    namedIndexes: slotNamesByIndex(
      facts.namespaces.filter((n) => n.owned).map((n) => n.name),
      config.netnsPattern,
    ),
    namedNsids: new Set(facts.namespaces.map((n) => n.nsid).filter((id): id is number => typeof id === 'number')),
    namesError: [...facts.visibility.errors, ...(facts.nsidError ? [facts.nsidError] : [])].join('; ') || null,
  });
}

/** Slot index -> namespace name, for the slot namespaces' names that carry an index (check, reclaim, the gate). */
export function slotNamesByIndex(names: readonly string[], pattern: RegExp): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of names) {
    const i = slotIndex(name, pattern);
    if (i !== null) out.set(i, name);
  }
  return out;
}
