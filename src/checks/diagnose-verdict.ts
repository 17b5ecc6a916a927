import type { SlotDetails } from '../host/slot-details.js';
import { tapBusy } from './slot-use.js';
import { checkPressure, DEFAULT_PRESSURE } from './pressure.js';

export type Verdict =
  | 'healthy'
  | 'netns-not-found'
  | 'no-tap'
  | 'tap-admin-down'
  | 'tap-busy'
  | 'no-vmm'
  | 'vmm-not-attached'
  | 'no-carrier'
  | 'host-pressure'
  | 'guest-unreachable';

export interface Diagnosis {
  verdict: Verdict;
  cause: string;
  next: string;
}

/** The likely cause in one sentence, from a fixed list, in the order an operator would rule things out. */
export function diagnose(s: SlotDetails, tapName: string): Diagnosis {
  const ns = s.netns;
  if (!s.exists)
    return {
      verdict: 'netns-not-found',
      cause: `namespace ${ns} does not exist in /run/netns`,
      next: 'check the slot name; the orchestrator may already have removed it',
    };
  if (!s.tap.exists)
    return {
      verdict: 'no-tap',
      cause: `${ns} has no ${tapName}: the slot was never completed or the tap was deleted`,
      next: `recreate the slot, or remove it with 'ip netns del ${ns}'`,
    };
  if (!s.tap.adminUp)
    return {
      verdict: 'tap-admin-down',
      cause: `${ns}/${tapName} is administratively down, so carrier can never come`,
      next: `'ip -n ${ns} link set ${tapName} up', then restart the VMM`,
    };
  if (tapBusy(s.tap.holders)) {
    return {
      verdict: 'tap-busy',
      cause: `${s.tap.holders.length} processes hold ${ns}/${tapName} (${s.tap.holders.map((h) => `${h.pid} ${h.comm}`).join(', ')}): a new VMM gets EBUSY`,
      next: `end the stale holder ('kill ${s.tap.holders
        .slice(1)
        .map((h) => h.pid)
        .join(' ')}') or reclaim with 'vmgate cleanup --kill-orphans' while no orchestrator runs`,
    };
  }
  if (s.tap.holders.length === 0) {
    if (s.tap.unattached.length > 0) {
      const u = s.tap.unattached[0]!;
      return {
        verdict: 'vmm-not-attached',
        cause: `pid ${u.pid} (${u.comm}) has /dev/net/tun open but never attached ${tapName} (no TUNSETIFF)`,
        next: "check the VMM's network-interface configuration (host_dev_name) and its log",
      };
    }
    return {
      verdict: 'no-vmm',
      cause: `no process holds ${ns}/${tapName}: the VMM never attached or has exited`,
      next: `look for the VMM's exit in the orchestrator log; if no sandbox uses ${ns}, reclaim it ('vmgate cleanup')`,
    };
  }
  if (!s.tap.carrier)
    return {
      verdict: 'no-carrier',
      cause: `pid ${s.tap.holders[0]!.pid} holds ${ns}/${tapName} but it has no carrier`,
      next: `compare 'ip -n ${ns} link show ${tapName}' with a working slot; restart the VMM`,
    };
  // carrier is up: a kernel table at its limit cuts the slot's network whatever the slot does
  const pressure = s.pressure ? checkPressure({ facts: s.pressure, limits: DEFAULT_PRESSURE, recentRefusals: null, nowMs: Date.now() }) : null;
  if (pressure?.status === 'fail') {
    const refusals = s.pressure?.neigh4?.tableFulls ? ` (${s.pressure.neigh4.tableFulls} neighbour entries refused since boot)` : '';
    return {
      verdict: 'host-pressure',
      cause: `${tapName} has carrier but the host is out of room: ${pressure.message.split('; ')[0]!.split(': ')[0]}${refusals}`,
      next: pressure.message.split('; ')[0]!.split(': ').slice(1).join(': ') || 'see host-pressure in vmgate check',
    };
  }
  if (s.guest && !s.guest.ok) {
    return {
      verdict: 'guest-unreachable',
      cause: `carrier is up but the guest agent at ${s.guest.address} does not answer (${s.guest.error})`,
      next: "read the guest's boot log (serial console): envd may not have started or eth0 is not configured",
    };
  }
  return {
    verdict: 'healthy',
    cause: `${ns}/${tapName} has carrier, held by pid ${s.tap.holders[0]!.pid} (${s.tap.holders[0]!.comm})${s.guest ? `, guest answers in ${s.guest.latencyMs?.toFixed(2)} ms` : ''}`,
    next: 'nothing to do',
  };
}
