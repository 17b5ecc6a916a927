import { durationOption, hostConfig, logConfig, str } from '../../config/host-config.js';
import { HOST_OPTIONS, parseOptions, type ParsedOptions } from '../../config/options.js';
import { UsageError } from '../../config/usage-error.js';
import { realGateHost } from '../gate-host.js';
import { Gate } from '../../gate/gate.js';
import type { LinkEventSource } from '../../gate/gate-host.js';
import { parseWaitQuery, type WaitAnswer } from '../../gate/wait-answer.js';
import { createLogger } from '../../sinks/log.js';
import { print } from '../command.js';

export function describeAnswer(a: WaitAnswer): string {
  const held = a.holders.length ? `held by ${a.holders.map((h) => `${h.pid} (${h.comm})`).join(', ')}` : 'no process holds it';
  const head = `${a.reason}: ${a.netns}/${a.iface} ${a.carrier ? 'has carrier' : 'has no carrier'} after ${a.waitedMs}ms, ${held}`;
  return a.error ? `${head}\n${a.error}` : head;
}

/** The event source of a one-shot read: nothing to follow, it starts at once and never ends on its own. */
const oneShot: LinkEventSource = {
  start: () => Promise.resolve(),
  stop: () => undefined,
  describe: () => 'one read, no event stream (--timeout 0)',
  onEvent: () => undefined,
  onExit: () => undefined,
};

export async function run(o: ParsedOptions): Promise<number> {
  const log = createLogger(logConfig(o));
  const params = new URLSearchParams();
  if (o.netns === undefined) throw new UsageError('wait: --netns is required');
  params.set('netns', str(o, 'netns'));
  params.set('iface', o.iface !== undefined ? str(o, 'iface') : str(o, 'tap'));
  params.set('timeout_ms', String(durationOption(o, 'timeout')));
  if (o.pid !== undefined) params.set('pid', str(o, 'pid'));
  const req = parseWaitQuery(params);
  if ('error' in req) throw new UsageError(`wait: ${req.error.replace(/parameter '(\w+)'/, (_, k: string) => `--${k === 'timeout_ms' ? 'timeout' : k}`)}`);
  // follows exactly one namespace; the host options keep their defaults
  const config = hostConfig(parseOptions('wait', [], HOST_OPTIONS, {}));
  const host = realGateHost(config.tunPath);
  // --timeout 0 asks "now?": one read answers it, no event stream (no ip monitor to start and subscribe)
  if (req.timeoutMs === 0) host.events = oneShot;
  const gate = new Gate(config, host, { owns: (n) => n === req.netns, maxWaiters: 1, recheckMs: 60_000, gateOnHost: false });
  try {
    await gate.start();
    if (!gate.healthy) throw new Error(gate.verdict.checks.find((c) => c.id === 'link-watcher')?.message ?? 'link watcher down');
    const answer = (await gate.wait(req))!;
    const line = { netns: answer.netns, tap: answer.iface, reason: answer.reason, waitedMs: answer.waitedMs, pid: answer.pid };
    if (answer.ready) log.debug(line, describeAnswer(answer));
    else log.warn(line, describeAnswer(answer).split('\n').join(': '));
    print(o.json ? JSON.stringify(answer) : describeAnswer(answer));
    return answer.ready ? 0 : 1;
  } finally {
    gate.stop();
  }
}
