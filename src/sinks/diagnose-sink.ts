import { diagnoseSlot, diagnoseWithCompare, diagnosisJson } from '../diagnose/diagnose-slot.js';
import type { Gate } from '../gate/gate.js';
import { NETNS_NAME, type WaitAnswer } from '../gate/wait-answer.js';
import type { ExtraRoute } from './http/server.js';
import { LogLimiter } from './log-limiter.js';
import type { Logger } from './log.js';

const MAX_DIAGNOSES_IN_FLIGHT = 2;

/**
 * After a slot wait ends in timeout or vmm-exited, one more line with the likely cause (after the answer is sent).
 * Bounded: the first per netns and reason, then at most 2 a second, never more than 2 at once (each runs a few
 * processes); the rest are only counted in the wait log's summary.
 */
export function logDiagnoses(gate: Gate, log: Logger): void {
  const limiter = new LogLimiter((counts, total) => log.info({ skippedDiagnoses: counts, total }, `${total} diagnoses after failed waits skipped (rate limit)`), 2);
  let inFlight = 0;
  gate.waits.on('finished', (a: WaitAnswer) => {
    if (a.reason !== 'timeout' && a.reason !== 'vmm-exited') return;
    if (inFlight >= MAX_DIAGNOSES_IN_FLIGHT || !limiter.allow(a.reason, `${a.netns}|${a.reason}`)) return;
    inFlight += 1;
    setImmediate(async () => {
      try {
        const d = await diagnoseSlot(a.netns, { ...gate.config, tap: a.iface }, null);
        log.warn({ netns: a.netns, tap: a.iface, reason: a.reason, verdict: d.diagnosis.verdict, pid: a.pid }, `diagnose ${a.netns}: ${d.diagnosis.verdict}: ${d.diagnosis.cause}; next: ${d.diagnosis.next}`);
      } catch (err) {
        log.debug({ netns: a.netns, err: (err as Error).message }, 'diagnose after a failed wait did not finish');
      } finally {
        inFlight -= 1;
      }
    });
  });
}

/**
 * GET /diagnose?netns=NAME[&compare=NAME]: only slot namespaces (--netns-pattern), and the guest probe only to
 * the configured guest address (serve --guest): any local user may call it, so it must not tell what else exists
 * or become a port scanner run as root from inside any namespace.
 */
export function diagnoseRoute(gate: Gate, guest: string): ExtraRoute {
  return async (params) => {
    const netns = params.get('netns');
    const compare = params.get('compare');
    for (const key of params.keys()) {
      if (key === 'guest') return { status: 400, body: { error: `parameter 'guest' is not accepted over HTTP: the probe goes to the configured guest address (${guest}, serve --guest)` } };
      if (!['netns', 'compare'].includes(key)) return { status: 400, body: { error: `unknown parameter '${key}'` } };
    }
    for (const key of ['netns', 'compare']) if (params.getAll(key).length > 1) return { status: 400, body: { error: `parameter '${key}' given more than once` } };
    if (!netns || !NETNS_NAME.test(netns)) return { status: 400, body: { error: "parameter 'netns' is required: 1 to 64 of A-Z a-z 0-9 . _ -" } };
    if (compare !== null && !NETNS_NAME.test(compare)) return { status: 400, body: { error: "parameter 'compare' must be 1 to 64 of A-Z a-z 0-9 . _ -" } };
    for (const name of [netns, compare]) {
      if (name !== null && !gate.config.netnsPattern.test(name)) return { status: 404, body: { verdict: 'netns-not-found', error: `no slot namespace '${name}' (matching --netns-pattern)` } };
    }
    const { slot, compare: other } = await diagnoseWithCompare(gate.config, netns, compare ?? undefined, guest);
    return { status: slot.facts.exists ? 200 : 404, body: diagnosisJson(slot, other) };
  };
}
