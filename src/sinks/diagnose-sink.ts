import { diagnoseSlot, diagnoseWithCompare, diagnosisJson, validGuest } from '../diagnose/diagnose-slot.js';
import type { Gate } from '../gate/gate.js';
import { NETNS_NAME, type WaitAnswer } from '../gate/wait-answer.js';
import type { ExtraRoute } from './http/server.js';
import type { Logger } from './log.js';

/** After a slot wait ends in timeout or vmm-exited, one more line with the likely cause (after the answer is sent). */
export function logDiagnoses(gate: Gate, log: Logger): void {
  gate.waits.on('finished', (a: WaitAnswer) => {
    if (a.reason !== 'timeout' && a.reason !== 'vmm-exited') return;
    setImmediate(async () => {
      try {
        const d = await diagnoseSlot(a.netns, { ...gate.config, tap: a.iface }, null);
        log.warn({ netns: a.netns, tap: a.iface, reason: a.reason, verdict: d.diagnosis.verdict, pid: a.pid }, `diagnose ${a.netns}: ${d.diagnosis.verdict}: ${d.diagnosis.cause}; next: ${d.diagnosis.next}`);
      } catch (err) {
        log.debug({ netns: a.netns, err: (err as Error).message }, 'diagnose after a failed wait did not finish');
      }
    });
  });
}

/** GET /diagnose?netns=NAME[&compare=NAME][&guest=ADDR:PORT] */
export function diagnoseRoute(gate: Gate): ExtraRoute {
  return async (params) => {
    const netns = params.get('netns');
    const compare = params.get('compare');
    const guest = params.get('guest') ?? '169.254.0.21:49983';
    for (const key of params.keys()) if (!['netns', 'compare', 'guest'].includes(key)) return { status: 400, body: { error: `unknown parameter '${key}'` } };
    if (!netns || !NETNS_NAME.test(netns)) return { status: 400, body: { error: "parameter 'netns' is required: 1 to 64 of A-Z a-z 0-9 . _ -" } };
    if (compare !== null && !NETNS_NAME.test(compare)) return { status: 400, body: { error: "parameter 'compare' must be 1 to 64 of A-Z a-z 0-9 . _ -" } };
    if (!validGuest(guest)) return { status: 400, body: { error: "parameter 'guest' must be ADDR:PORT" } };
    const { slot, compare: other } = await diagnoseWithCompare(gate.config, netns, compare ?? undefined, guest);
    return { status: slot.facts.exists ? 200 : 404, body: diagnosisJson(slot, other) };
  };
}
