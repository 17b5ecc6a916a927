import { durationOption, hostConfig, logConfig } from '../../config/host-config.js';
import { HOST_OPTIONS, parseOptions } from '../../config/options.js';
import { UsageError } from '../../config/usage-error.js';
import { realGateHost } from '../gate-host.js';
import { Gate } from '../../gate/gate.js';
import type { LinkEventSource } from '../../gate/gate-host.js';
import { waitRequest, type WaitAnswer } from '../../gate/wait-answer.js';
import { createLogger } from '../../sinks/log.js';
import { print } from '../command.js';
import type { WaitFlags } from '../command-options.js';

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

export async function run(o: WaitFlags): Promise<number> {
  const log = createLogger(logConfig(o));
  if (o.netns === undefined) throw new UsageError('wait: --netns is required');
  const req = waitRequest(
    { netns: o.netns, iface: o.iface ?? o.tap, timeoutMs: durationOption(o, 'timeout'), pid: o.pid },
    { netns: '--netns', iface: '--iface', timeout: '--timeout', pid: '--pid' },
  );
  if ('error' in req) throw new UsageError(`wait: ${req.error}`);
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
