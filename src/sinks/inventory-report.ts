import type { SlotView, SlotsView } from '../checks/slots.js';
import { formatDuration } from '../config/duration.js';

/** The JSON shape of `vmgate inventory --json` and GET /inventory. */
export function inventoryJson(view: SlotsView) {
  return { orchestratorRunning: view.orchestratorRunning, namespaces: view.slots.map(slotJson) };
}

function slotJson(s: SlotView) {
  return {
    name: s.name,
    state: s.state,
    leftover: s.leftover,
    ageSeconds: s.ageSeconds,
    nsid: s.nsid,
    /** more than one process holds a tap: a new VMM attaching to it gets EBUSY */
    tapBusy: s.taps.some((t) => t.holders.length > 1),
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

const slotText = new WeakMap<SlotView, string>();
const viewText = new WeakMap<SlotsView, string>();

/** serve's leak tracking, per slot: appended to the slot's JSON at every answer (idle time moves on) */
export type LeakFields = (netns: string) => { suspectedLeak: boolean; idleSeconds: number | null } | null;

/**
 * inventoryJson as text, for serve: each slot's JSON is kept with its (reused) SlotView, so a scrape after one
 * slot changed serializes one slot, not a thousand. With leak tracking, suspectedLeak and idleSeconds are added.
 */
export function inventoryText(view: SlotsView, leaks?: LeakFields): string {
  let text = leaks ? undefined : viewText.get(view);
  if (text !== undefined) return text;
  const parts = view.slots.map((s) => {
    let t = slotText.get(s);
    if (t === undefined) slotText.set(s, (t = JSON.stringify(slotJson(s))));
    const l = leaks?.(s.name);
    return l ? `${t.slice(0, -1)},"suspectedLeak":${l.suspectedLeak},"idleSeconds":${l.idleSeconds}}` : t;
  });
  text = `{"orchestratorRunning":${view.orchestratorRunning},"namespaces":[${parts.join(',')}]}`;
  if (!leaks) viewText.set(view, text);
  return text;
}

function row(s: SlotView, tapName: string): string[] {
  const tap = s.taps.find((t) => t.name === tapName);
  const holders = s.taps.flatMap((t) => t.holders.map((h) => `${h.pid}/${h.comm}`));
  return [
    s.name,
    s.leftover ? 'idle(leftover)' : s.state,
    formatDuration(s.ageSeconds * 1000),
    s.nsid === null ? '-' : String(s.nsid),
    tap ? tap.flags.join(',') || '-' : s.linkError ? 'unreadable' : 'no tap',
    tap ? (tap.carrier ? 'yes' : 'no') : '-',
    holders.join(' ') || '-',
    s.processes.map((p) => `${p.pid}/${p.comm}`).join(' ') || '-',
  ];
}

export function formatInventory(view: SlotsView, tapName: string): string {
  const head = ['NETNS', 'STATE', 'AGE', 'NSID', `${tapName.toUpperCase()} FLAGS`, 'CARRIER', 'HOLDERS', 'PROCESSES'];
  const rows = [head, ...view.slots.map((s) => row(s, tapName))];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  const orch = view.orchestratorRunning
    ? `orchestrator running (pid ${view.orchestrators.map((p) => p.pid).join(',')}): idle slots are its pool`
    : 'no orchestrator running: idle slots are leftovers';
  lines.push(`${view.slots.length} slot namespaces; ${orch}`);
  return lines.join('\n');
}
