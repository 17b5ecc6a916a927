import type { SlotView, SlotsView } from '../checks/slots.js';
import type { HostStateView } from '../checks/host-state.js';
import { tapBusy } from '../checks/slot-use.js';
import { formatDuration } from '../config/duration.js';

/** The JSON shape of `vmgate inventory --json` and GET /inventory; with host state, each slot's host parts too. */
export function inventoryJson(view: SlotsView, host?: HostStateView | null) {
  const base = { orchestratorRunning: view.orchestratorRunning, namespaces: view.slots.map(slotJson) };
  if (!host) return base;
  const indexOf = new Map([...host.names].map(([i, name]) => [name, i]));
  return {
    ...base,
    namespaces: base.namespaces.map((n) => ({ ...n, host: hostParts(host, indexOf.get(n.name)) })),
    hostState: hostStateJson(host),
  };
}

/** Per slot: its veth, route and rules on the host (null: the name carries no slot index). */
function hostParts(host: HostStateView, index: number | undefined) {
  const s = index === undefined ? undefined : host.slots.get(index);
  return s
    ? {
        slot: s.index,
        veth: s.veth,
        vethPresent: s.vethPresent,
        routePresent: s.routePresent,
        rules: s.rules,
        expectedRules: s.expectedRules,
        duplicateRules: s.duplicateRules,
      }
    : null;
}

/** Host state that belongs to no live slot: orphaned rules and routes, duplicates, unnamed slot namespaces. */
export function hostStateJson(host: HostStateView) {
  return {
    ...(host.incomplete !== null ? { incomplete: host.incomplete } : {}),
    gateway: host.gateway,
    orphaned: host.orphaned.map((o) => ({
      slot: o.index,
      veth: o.veth,
      hostIp: o.hostIp,
      rules: o.rules.map((r) => ({ backend: r.backend, table: r.table, rule: r.line })),
      routes: o.routes,
    })),
    duplicates: host.duplicates.map((d) => ({ slot: d.index, backend: d.rule.backend, table: d.rule.table, rule: d.rule.line, copies: d.copies })),
    unnamedSlotNamespaces: host.unnamed,
    foreignRules: host.foreign.map((r) => ({ backend: r.backend, table: r.table, rule: r.line })),
  };
}

function slotJson(s: SlotView) {
  return {
    name: s.name,
    state: s.state,
    leftover: s.leftover,
    ageSeconds: s.ageSeconds,
    nsid: s.nsid,
    /** more than one process holds a tap: a new VMM attaching to it gets EBUSY */
    tapBusy: s.taps.some((t) => tapBusy(t.holders)),
    processes: s.processes.map(({ pid, comm }) => ({ pid, comm })),
    taps: s.taps.map((t) => ({
      name: t.name,
      adminUp: t.adminUp,
      carrier: t.carrier,
      operstate: t.operstate,
      flags: t.flags,
      holders: t.holders.map(({ pid, comm }) => ({ pid, comm })),
    })),
    ...(s.linkError !== undefined ? { error: s.linkError } : {}),
    ...(s.unknownReason !== undefined ? { unknownReason: s.unknownReason } : {}),
  };
}

/**
 * A slot's JSON around its age: serve keeps a judgement and brings its age up to date in place, so the age is put
 * in at every read and the rest made once. (`,"ageSeconds":` unescaped can only be the key: quotes in values are escaped.)
 */
const slotText = new WeakMap<SlotView, { head: string; tail: string }>();

function keptJson(s: SlotView): { head: string; tail: string } {
  let kept = slotText.get(s);
  if (kept) return kept;
  const text = JSON.stringify(slotJson(s));
  const key = ',"ageSeconds":';
  const at = text.indexOf(key) + key.length;
  kept = { head: text.slice(0, at), tail: text.slice(at + String(s.ageSeconds).length, -1) };
  slotText.set(s, kept);
  return kept;
}

/** serve's leak tracking, per slot: appended to the slot's JSON at every answer (idle time moves on) */
export type LeakFields = (netns: string) => { suspectedLeak: boolean; idleSeconds: number | null } | null;

/**
 * inventoryJson as text pieces of `perPiece` slots, ~28 KB each at 100: below V8's large-object size (serve's GET
 * /inventory streams them, yielding between pieces):
 * each slot's JSON is kept with its (reused) SlotView, so a read after one slot changed serializes one slot, not a
 * thousand. With leak tracking, suspectedLeak and idleSeconds are added.
 */
export function* inventoryPieces(view: SlotsView, leaks?: LeakFields, perPiece = 100): Generator<string> {
  let piece = `{"orchestratorRunning":${view.orchestratorRunning},"namespaces":[`;
  const slots = view.slots;
  for (let at = 0; at < slots.length; at += perPiece) {
    const parts: string[] = [];
    for (let i = at; i < Math.min(slots.length, at + perPiece); i++) {
      const s = slots[i]!;
      const { head, tail } = keptJson(s);
      const l = leaks?.(s.name);
      parts.push(`${head}${s.ageSeconds}${tail}${l ? `,"suspectedLeak":${l.suspectedLeak},"idleSeconds":${l.idleSeconds}` : ''}}`);
    }
    yield `${piece}${at > 0 ? ',' : ''}${parts.join(',')}`;
    piece = '';
  }
  yield `${piece}]}`;
}

function row(s: SlotView, tapName: string, nsids: boolean): string[] {
  const tap = s.taps.find((t) => t.name === tapName);
  const holders = s.taps.flatMap((t) => t.holders.map((h) => `${h.pid}/${h.comm}`));
  return [
    s.name,
    s.leftover ? 'idle(leftover)' : s.state,
    formatDuration(s.ageSeconds * 1000),
    ...(nsids ? [s.nsid == null ? '-' : String(s.nsid)] : []),
    tap ? tap.flags.join(',') || '-' : s.linkError ? 'unreadable' : 'no tap',
    tap ? (tap.carrier ? 'yes' : 'no') : '-',
    holders.join(' ') || '-',
    s.processes.map((p) => `${p.pid}/${p.comm}`).join(' ') || '-',
  ];
}

export function formatInventory(view: SlotsView, tapName: string, host?: HostStateView | null): string {
  // the NSID column only when they were read (inventory --nsids)
  const nsids = view.slots.some((s) => s.nsid !== undefined);
  const head = ['NETNS', 'STATE', 'AGE', ...(nsids ? ['NSID'] : []), `${tapName.toUpperCase()} FLAGS`, 'CARRIER', 'HOLDERS', 'PROCESSES'];
  const rows = [head, ...view.slots.map((s) => row(s, tapName, nsids))];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  const orch = view.orchestratorRunning
    ? `orchestrator running (pid ${view.orchestrators.map((p) => p.pid).join(',')}): idle slots are its pool`
    : 'no orchestrator running: idle slots are leftovers';
  lines.push(`${view.slots.length} slot namespaces; ${orch}`);
  if (host) {
    if (host.incomplete !== null) lines.push(`host state not read completely: ${host.incomplete}`);
    for (const o of host.orphaned)
      lines.push(`orphaned: slot ${o.index} (${o.veth}, ${o.hostIp ?? '-'}): ${o.rules.length} rules, ${o.routes.length} routes, no namespace`);
    for (const u of host.unnamed)
      lines.push(
        `unnamed slot namespace: slot ${u.index} (${u.veth}, nsid ${u.nsid ?? '-'}) held by ${u.holders.map((h) => `${h.pid}/${h.comm}`).join(' ') || 'an fd or mount vmgate cannot name'}`,
      );
    const dups = host.duplicates.reduce((n, d) => n + d.copies - 1, 0);
    if (dups > 0) lines.push(`${dups} duplicate rules of live slots`);
    if (host.foreign.length > 0) lines.push(`${host.foreign.length} rules name a slot's veth or host IP but are not its rules (left alone)`);
  }
  return lines.join('\n');
}
