import type { Gate } from '../gate/gate.js';
import { failingIds, type HostVerdict } from '../gate/host-verdict.js';
import type { LeakNotice } from '../gate/events.js';
import type { WaitAnswer } from '../gate/wait-answer.js';
import { formatDuration } from '../config/duration.js';
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
      `${total} more ${heldBack(Object.keys(counts))} not logged one by one: ${Object.entries(counts)
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
  gate.on('leak', (notice) => logLeak(log, limiter, notice));
  gate.on('watcher', (event, detail) => {
    if (event === 'restarted') log.info({ watcher: event }, `link watcher restarted (${detail}) and state re-read`);
    else log.warn({ watcher: event }, `link watcher ${event}: ${detail}`);
  });
  return limiter;
}

/**
 * One warn line per slot that becomes a suspected leak or has a busy tap, at most 5 a second of each (a host with
 * a thousand leaked slots crossing --leak-age together must not write a thousand lines at once: the rest are counted
 * in the summary line, and slot-leaks and /inventory name them all); an info line when a suspect is used again.
 */
function logLeak(log: Logger, limiter: LogLimiter, notice: LeakNotice): void {
  if (notice.kind === 'suspected') {
    const e = notice.leak;
    if (!limiter.allow('suspected-leak', 'suspected-leak')) return;
    const holder = e.lastHolder ? `last held by pid ${e.lastHolder.pid} (${e.lastHolder.comm})` : 'no holder seen while vmgate watched';
    log.warn(
      {
        netns: e.netns,
        tap: e.tap,
        tapState: e.tapState,
        idleSeconds: e.idleSeconds,
        pid: e.lastHolder?.pid,
        comm: e.lastHolder?.comm,
        orchestrators: e.orchestrators,
        suspectedLeak: true,
      },
      `suspected leak: ${e.netns} idle for ${formatDuration(e.idleSeconds * 1000)} (${e.tap} ${e.tapState}, ${holder}) while the orchestrator runs (pid ${e.orchestrators.join(',')}); nothing deleted`,
    );
  } else if (notice.kind === 'in-use') {
    const { netns, idleSeconds } = notice;
    log.info(
      { netns, idleSeconds, suspectedLeak: false },
      `${netns} is in use again after ${formatDuration(idleSeconds * 1000)} idle: no longer a suspected leak`,
    );
  } else if (notice.kind === 'tap-busy') {
    const e = notice.busy;
    if (!limiter.allow('tap-busy', 'tap-busy')) return;
    const who = e.holders.map((h) => `pid ${h.pid} (${h.comm}) fd ${h.fd}`).join(', ');
    log.warn(
      { netns: e.netns, tap: e.tap, holders: e.holders.map((h) => `${h.pid}/${h.comm}`), tapBusy: true },
      `tap-busy: ${e.netns}/${e.tap} is held by ${e.holders.length} processes (${who}): a new VMM attaching to it gets EBUSY until the others close it`,
    );
  }
}

/** What a summary line held back: the limiter's kinds are wait reasons, plus suspected-leak and tap-busy. */
function heldBack(kinds: string[]): string {
  const leak = kinds.filter((k) => k === 'suspected-leak' || k === 'tap-busy').length;
  if (leak === 0) return 'failed slot waits';
  return leak === kinds.length ? 'leak lines' : 'failed slot waits and leak lines';
}
