import { setTimeout as sleep } from 'node:timers/promises';
import { cleanup } from '../../actions/cleanup.js';
import { NodeMetaPublisher, PREFLIGHT_KEYS } from '../../sinks/nomad-meta.js';
import type { FixedEntry } from '../../actions/types.js';
import { allPassed, CHECK_IDS, runChecks } from '../../checks/run-checks.js';
import { durationOption, hostConfig, logConfig, str } from '../../config/host-config.js';
import { HOST_OPTIONS, type ParsedOptions } from '../../config/options.js';
import { UsageError } from '../../config/usage-error.js';
import { takeSnapshot } from '../../host/snapshot.js';
import { formatCheckReport } from '../../sinks/check-report.js';
import { createLogger } from '../../sinks/log.js';
import { logCheckResults } from '../../sinks/check-log.js';
import { JSON_OPTION, print, type Command } from '../command.js';

export const FIX_OPTIONS = [
  { name: 'kill-orphans', kind: 'boolean' as const, help: 'also end orphaned VMMs (SIGTERM, then SIGKILL after --kill-grace) before reclaiming their namespaces' },
  { name: 'kill-grace', kind: 'string' as const, default: '5s', help: 'time between SIGTERM and SIGKILL for --kill-orphans' },
];

export function parseIgnore(text: string): Set<string> {
  const ids = new Set(text.split(',').map((s) => s.trim()).filter(Boolean));
  for (const id of ids) {
    if (id !== 'all' && !(CHECK_IDS as readonly string[]).includes(id)) {
      throw new UsageError(`--ignore: unknown check id '${id}' (known: ${CHECK_IDS.join(', ')}, all)`);
    }
  }
  return ids;
}

export const checkCommand: Command = {
  name: 'check',
  synopsis: '[--fix [--kill-orphans]] [--ignore ID,...] [--json]',
  summary: 'prestart: verify the tun device, namespace capacity and leftovers; --fix reclaims leftovers',
  options: [
    ...HOST_OPTIONS,
    { name: 'fix', kind: 'boolean', help: 'delete leftover slot namespaces (re-verified first), then check again' },
    ...FIX_OPTIONS,
    { name: 'nomad-meta', kind: 'boolean', help: 'publish the verdict as Nomad node metadata vmgate_preflight / vmgate_preflight_reason, only when it changes (never fails the check)' },
    { name: 'ignore', kind: 'string', default: '', help: `demote these checks' failures to warnings (${CHECK_IDS.join(', ')}, all)` },
    JSON_OPTION,
  ],
  async run(o: ParsedOptions) {
    const config = hostConfig(o);
    const log = createLogger(logConfig(o));
    const ignore = parseIgnore(str(o, 'ignore'));
    if (o['kill-orphans'] && !o.fix) throw new UsageError('--kill-orphans only works together with --fix');
    const killGraceMs = durationOption(o, 'kill-grace');
    let { results } = runChecks(await takeSnapshot(config), config, ignore);
    let fixed: FixedEntry[] = [];
    let refused: string | undefined;
    if (o.fix && results.some((r) => r.id === 'leftover-taps' && (r.status !== 'pass' || r.details.ignored))) {
      const outcome = await cleanup(config, { dryRun: false, killOrphans: Boolean(o['kill-orphans']), killGraceMs, settleMs: 200 }, log);
      fixed = outcome.fixed;
      refused = outcome.refused;
      if (refused) log.warn({ check: 'leftover-taps' }, `--fix: ${refused}`);
      ({ results } = runChecks(await takeSnapshot(config), config, ignore));
    }
    logCheckResults(log, results);
    const ok = allPassed(results);
    if (o['nomad-meta']) {
      const meta = NodeMetaPublisher.fromEnv(log, PREFLIGHT_KEYS, { timeoutMs: 2000, retries: 1 });
      const failing = results.filter((r) => r.status === 'fail').map((r) => r.id);
      if (meta) await Promise.race([meta.publish(ok ? 'pass' : 'fail', failing).then(() => meta.close()), sleep(5000)]);
    }
    if (o.json) print(JSON.stringify({ ok, checks: results, fixed, ...(refused ? { refused } : {}) }));
    else print(formatCheckReport(results, fixed, refused));
    return ok ? 0 : 1;
  },
};
