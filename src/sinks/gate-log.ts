import type { Gate } from '../gate/gate.js';
import { failingIds, type HostVerdict } from '../gate/host-verdict.js';
import type { WaitAnswer } from '../gate/wait-answer.js';
import { LogLimiter } from './log-limiter.js';
import type { Logger } from './log.js';

/**
 * One line per finished slot wait (failed ones rate-limited: the first per netns and reason in full, then at most 5
 * a second per reason, and a summary line with the counts of what was held back every 10 s), one per host verdict
 * change, one per watcher event. Returns the limiter so shutdown can flush its last summary.
 */
export function logGate(gate: Gate, log: Logger): LogLimiter {
  const limiter = new LogLimiter((counts, total) =>
    log.warn(
      { suppressed: counts, total },
      `${total} more failed slot waits not logged one by one: ${Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    ),
  );
  gate.on('finished', (a: WaitAnswer) => {
    const line = {
      netns: a.netns,
      tap: a.iface,
      reason: a.reason,
      waitedMs: a.waitedMs,
      pid: a.pid ?? a.holders[0]?.pid,
      holders: a.holders.map((h) => `${h.pid}/${h.comm}`),
    };
    if (a.reason === 'carrier-up')
      log.info(line, `${a.netns}/${a.iface} has carrier after ${a.waitedMs}ms${a.holders.length ? ` (held by ${line.holders.join(', ')})` : ''}`);
    else if (limiter.allow(a.reason, `${a.netns}|${a.reason}`))
      log.warn(line, `${a.netns}/${a.iface} wait ended ${a.reason} after ${a.waitedMs}ms${a.error ? `: ${a.error}` : ''}`);
  });
  gate.on('verdict', (now: HostVerdict, before: HostVerdict) => {
    const failing = failingIds(now);
    const line = { ready: now.ready, failing, was: failingIds(before) };
    if (now.ready) log.info(line, before.reason === 'starting' ? 'host gate ready: first evaluation passed' : 'host gate ready again');
    else
      log.warn(
        line,
        `host gate NOT ready: ${now.checks
          .filter((c) => c.status === 'fail')
          .map((c) => `${c.id}: ${c.message}`)
          .join('; ')}`,
      );
  });
  gate.on('watcher', (event: string, detail: string) => {
    if (event === 'restarted') log.info({ watcher: event }, `link watcher restarted (${detail}) and state re-read`);
    else log.warn({ watcher: event }, `link watcher ${event}: ${detail}`);
  });
  return limiter;
}
