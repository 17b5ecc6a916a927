import { setTimeout as sleep } from 'node:timers/promises';
import { cleanup } from '../../actions/cleanup.js';
import { NodeMetaPublisher, PREFLIGHT_KEYS } from '../../sinks/nomad-meta.js';
import type { FixedEntry, HostFixedEntry } from '../../checks/fixed-entry.js';
import { allPassed, CHECK_IDS, demote, runChecks } from '../../checks/run-checks.js';
import { judgePrerequisites } from '../../checks/prerequisites.js';
import { countNamespaces } from '../../checks/netns-capacity.js';
import { EXTRA_CHECK_IDS } from '../../config/extra-checks.js';
import { readPrerequisites } from '../../host/prerequisites.js';
import type { HostFacts } from '../../host/types.js';
import { durationOption, hostConfig, logConfig, str, type HostConfig } from '../../config/host-config.js';
import { UsageError } from '../../config/usage-error.js';
import { takeSnapshot } from '../../host/snapshot.js';
import { formatCheckReport } from '../../sinks/check-report.js';
import { createLogger } from '../../sinks/log.js';
import { logCheckResults } from '../../sinks/check-log.js';
import { print } from '../command.js';
import type { CheckFlags } from '../command-options.js';

export function parseIgnore(text: string): Set<string> {
  const ids = new Set(
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  for (const id of ids) {
    if (id !== 'all' && !([...CHECK_IDS, ...EXTRA_CHECK_IDS] as readonly string[]).includes(id)) {
      throw new UsageError(`--ignore: unknown check id '${id}' (known: ${[...CHECK_IDS, ...EXTRA_CHECK_IDS].join(', ')}, all)`);
    }
  }
  return ids;
}

/** The default checks, then the host prerequisites asked for with --extra-checks. */
function allChecks(facts: HostFacts, config: HostConfig, ignore: ReadonlySet<string>) {
  const extra = config.extraChecks ?? [];
  const extras = judgePrerequisites(extra, readPrerequisites(extra), config, countNamespaces(facts).owned);
  return [...runChecks(facts, config, ignore).results, ...extras.map((r) => demote(r, ignore))];
}

export async function run(o: CheckFlags): Promise<number> {
  const config = hostConfig(o);
  const log = createLogger(logConfig(o));
  const ignore = parseIgnore(str(o, 'ignore'));
  if (o['kill-orphans'] && !o.fix) throw new UsageError('--kill-orphans only works together with --fix');
  if (o['dedupe-rules'] && !o.fix) throw new UsageError('--dedupe-rules only works together with --fix');
  const killGraceMs = durationOption(o, 'kill-grace');
  const facts = await takeSnapshot(config);
  let results = allChecks(facts, config, ignore);
  let fixed: FixedEntry[] = [];
  let hostFixed: HostFixedEntry[] = [];
  let refused: string | undefined;
  const needsFix = (id: string) => results.some((r) => r.id === id && (r.status !== 'pass' || r.details.ignored));
  if (o.fix && (needsFix('leftover-taps') || needsFix('leftover-host-rules'))) {
    const outcome = await cleanup(
      config,
      { dryRun: false, killOrphans: Boolean(o['kill-orphans']), killGraceMs, settleMs: 200, dedupeRules: Boolean(o['dedupe-rules']), facts },
      log,
    );
    fixed = outcome.fixed;
    hostFixed = outcome.hostFixed ?? [];
    refused = outcome.refused;
    if (refused) log.warn({ check: 'leftover-taps' }, `--fix: ${refused}`);
    results = allChecks(await takeSnapshot(config), config, ignore);
  }
  logCheckResults(log, results);
  const ok = allPassed(results);
  if (o['nomad-meta']) {
    const meta = NodeMetaPublisher.fromEnv(log, PREFLIGHT_KEYS, { timeoutMs: 2000, retries: 1 });
    const failing = results.filter((r) => r.status === 'fail').map((r) => r.id);
    if (meta) await Promise.race([meta.publish(ok ? 'pass' : 'fail', failing).then(() => meta.close()), sleep(5000)]);
  }
  if (o.json) print(JSON.stringify({ ok, checks: results, fixed, hostFixed, ...(refused ? { refused } : {}) }));
  else print(formatCheckReport(results, fixed, refused, hostFixed));
  return ok ? 0 : 1;
}
