/** One line of `ip -o monitor all-nsid link nsid`, as data. */
export type MonitorEvent =
  | { kind: 'link'; nsid: number | null; deleted: boolean; ifindex: number; name: string; flags: string[]; operstate: string }
  | { kind: 'nsid'; nsid: number; deleted: boolean; netns: string | null };

const LINK = /^\[nsid (\S+)\]\s*(Deleted\s+)?(\d+):\s+([^:@\s]+)(?:@[^:\s]*)?:\s+<([^>]*)>(.*)$/;
const NSID = /^\[nsid \S+\]\s*(Deleted\s+)?nsid (\d+)(?:\s+\(iproute2 netns name:\s*([^)]+)\))?/;

/** Returns null for lines that are neither (other link attributes, blank lines, future formats). */
export function parseMonitorLine(line: string): MonitorEvent | null {
  const n = NSID.exec(line);
  if (n) return { kind: 'nsid', nsid: Number(n[2]), deleted: Boolean(n[1]), netns: n[3]?.trim() ?? null };
  const m = LINK.exec(line);
  if (!m) return null;
  const state = /\bstate (\S+)/.exec(m[6]!);
  return {
    kind: 'link',
    nsid: m[1] === 'current' ? null : Number(m[1]),
    deleted: Boolean(m[2]),
    ifindex: Number(m[3]),
    name: m[4]!,
    flags: m[5] ? m[5].split(',') : [],
    operstate: state ? state[1]! : 'UNKNOWN',
  };
}
