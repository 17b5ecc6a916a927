import { AfterWaitDiagnoses, type FailedWait } from '../diagnose/after-waits.js';
import { diagnoseSlot, diagnoseWithCompare, diagnosisJson } from '../diagnose/diagnose-slot.js';
import type { Gate } from '../gate/gate.js';
import { NETNS_NAME, type WaitAnswer } from '../gate/wait-answer.js';
import type { ProcessSource, SlotSources } from '../host/slot-details.js';
import type { ExtraRoute } from './http/server.js';
import type { Logger } from './log.js';

/**
 * After a slot wait ends in timeout or vmm-exited, a line with the likely cause, after the answer is sent:
 * coalesced per namespace and bounded (diagnose/after-waits.ts). Processes come from the gate's holder index
 * (only those inside the namespace), so a diagnosis never passes over the whole host.
 */
export function logDiagnoses(gate: Gate, log: Logger, source: ProcessSource): AfterWaitDiagnoses {
  // the gate's own link state: no `ip` child per diagnosis (a spawn from a large process stalls its event loop)
  const sources: SlotSources = { processes: source, links: (netns) => gate.linksOf(netns) };
  const run = async (w: FailedWait) => (await diagnoseSlot(w.netns, { ...gate.config, tap: w.iface }, null, sources)).diagnosis;
  const queue = new AfterWaitDiagnoses(run, log);
  gate.on('finished', (a: WaitAnswer) => {
    if (a.reason === 'timeout' || a.reason === 'vmm-exited') queue.failed({ netns: a.netns, iface: a.iface, reason: a.reason, pid: a.pid });
  });
  return queue;
}

/** /diagnose calls running at once; more answer 429 with Retry-After at once */
export const DIAGNOSES_IN_FLIGHT = 2;

/**
 * GET /diagnose?netns=NAME[&compare=NAME]: only slot namespaces (--netns-pattern), and the guest probe only to
 * the configured guest address (serve --guest): any local user may call it, so it must not tell what else exists
 * or become a port scanner run as root from inside any namespace.
 */
export function diagnoseRoute(gate: Gate, guest: string, source: ProcessSource, maxInFlight = DIAGNOSES_IN_FLIGHT): ExtraRoute {
  let inFlight = 0;
  return async (params) => {
    const netns = params.get('netns');
    const compare = params.get('compare');
    for (const key of params.keys()) {
      if (key === 'guest')
        return {
          status: 400,
          body: { error: `parameter 'guest' is not accepted over HTTP: the probe goes to the configured guest address (${guest}, serve --guest)` },
        };
      if (!['netns', 'compare'].includes(key)) return { status: 400, body: { error: `unknown parameter '${key}'` } };
    }
    for (const key of ['netns', 'compare'])
      if (params.getAll(key).length > 1) return { status: 400, body: { error: `parameter '${key}' given more than once` } };
    if (!netns || !NETNS_NAME.test(netns)) return { status: 400, body: { error: "parameter 'netns' is required: 1 to 64 of A-Z a-z 0-9 . _ -" } };
    if (compare !== null && !NETNS_NAME.test(compare)) return { status: 400, body: { error: "parameter 'compare' must be 1 to 64 of A-Z a-z 0-9 . _ -" } };
    for (const name of [netns, compare]) {
      if (name !== null && !gate.config.netnsPattern.test(name))
        return { status: 404, body: { verdict: 'netns-not-found', error: `no slot namespace '${name}' (matching --netns-pattern)` } };
    }
    // each diagnosis spawns ip and a guest probe: a few at a time, the rest answered at once (any local user may call)
    if (inFlight >= maxInFlight)
      return {
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: `${inFlight} diagnoses are in flight (at most ${maxInFlight}); retry in a second` },
      };
    inFlight += 1;
    try {
      const slots = () => gate.slots();
      const { slot, compare: other } = await diagnoseWithCompare(gate.config, netns, compare ?? undefined, guest, slots, { processes: source });
      return { status: slot.facts.exists ? 200 : 404, body: diagnosisJson(slot, other) };
    } finally {
      inFlight -= 1;
    }
  };
}
