import { formatDuration } from '../config/duration.js';
import { tapBusy } from '../checks/slot-use.js';
import type { DiagnosedSlot } from '../diagnose/diagnose-slot.js';

const dash = (s: string) => s || '-';

function rows(d: DiagnosedSlot, tapName: string): [string, string][] {
  const s = d.facts;
  const t = s.tap;
  return [
    ['namespace', s.exists ? `exists, nsid ${s.nsid ?? 'none'}, age ${formatDuration((s.ageSeconds ?? 0) * 1000)}` : 'does not exist'],
    ['processes inside', dash(s.processes.map((p) => `${p.pid} ${p.comm} (${p.state})`).join(', '))],
    ['other holders', dash([...s.mounts.map((m) => `mount ${m}`), ...s.fdHolders.map((p) => `fd in ${p.pid} ${p.comm}`)].join(', '))],
    [`${tapName} flags`, t.exists ? `<${t.flags.join(',')}>` : 'no such interface'],
    [`${tapName} state`, t.exists ? `${t.adminUp ? 'up' : 'ADMIN DOWN'}, ${t.carrier ? 'carrier' : 'NO CARRIER'}, operstate ${t.operstate}` : '-'],
    [`${tapName} holders`, dash(t.holders.map((h) => `${h.pid} ${h.comm} fd ${h.fd}`).join(', ') + (tapBusy(t.holders) ? ' (EBUSY risk)' : ''))],
    ['tun open, unattached', dash(t.unattached.map((h) => `${h.pid} ${h.comm} fd ${h.fd}`).join(', '))],
    ['VMM', s.vmm ? `${s.vmm.pid} ${s.vmm.comm} ${s.vmm.alive ? 'alive' : 'DEAD'}, started ${s.vmm.startedAt}` : 'none'],
    ['VMM command', dash(s.vmm?.command.slice(0, 60) ?? '')],
    ['interfaces', dash(s.interfaces.map((i) => `${i.name}${i.addresses.length ? ` ${i.addresses.join(',')}` : ''}`).join('; '))],
    ['default route', s.defaultRoute ?? '-'],
    [
      'guest',
      s.guest
        ? s.guest.ok
          ? `${s.guest.address} answers in ${s.guest.latencyMs!.toFixed(2)} ms`
          : `${s.guest.address} unreachable (${s.guest.error})`
        : 'not probed',
    ],
    ['verdict', d.diagnosis.verdict],
  ];
}

/** A two-column comparison like the incident report's table, then cause and next step for the slot. */
export function formatDiagnosis(slot: DiagnosedSlot, compare: DiagnosedSlot | null, tapName: string): string {
  const a = rows(slot, tapName);
  const b = compare ? rows(compare, tapName) : null;
  const head: [string, string, string?] = ['', slot.facts.netns, compare ? `${compare.facts.netns} (compare)` : undefined];
  const w0 = Math.max(...a.map((r) => r[0].length));
  const w1 = Math.max(head[1].length, ...a.map((r) => r[1].length));
  const line = (x: string, y: string, z?: string) => `${x.padEnd(w0)}  ${z === undefined ? y : `${y.padEnd(w1)}  ${z}`}`.trimEnd();
  const out = [line(head[0], head[1], head[2]), ...a.map((r, i) => line(r[0], r[1], b?.[i]?.[1]))];
  out.push('', `cause: ${slot.diagnosis.cause}`, `next:  ${slot.diagnosis.next}`);
  if (!compare) out.push('(no healthy active slot to compare with)');
  return out.join('\n');
}
