import { cleanup } from '../../actions/cleanup.js';
import { durationOption, hostConfig, logConfig } from '../../config/host-config.js';
import { describeFix, describeHostFix } from '../../sinks/check-report.js';
import { createLogger } from '../../sinks/log.js';
import { print } from '../command.js';
import type { CleanupFlags } from '../command-options.js';

export async function run(o: CleanupFlags): Promise<number> {
  const config = hostConfig(o);
  const log = createLogger(logConfig(o));
  const killGraceMs = durationOption(o, 'kill-grace');
  const r = await cleanup(
    config,
    { dryRun: Boolean(o['dry-run']), killOrphans: Boolean(o['kill-orphans']), killGraceMs, settleMs: 200, dedupeRules: Boolean(o['dedupe-rules']) },
    log,
  );
  const hostFixed = r.hostFixed ?? [];
  if (r.refused) log.warn({}, `cleanup: ${r.refused}`);
  const failed = r.fixed.filter((f) => f.action === 'failed').length + hostFixed.filter((f) => f.action === 'failed').length;
  if (o.json) {
    print(
      JSON.stringify({
        ok: !r.refused && failed === 0,
        fixed: r.fixed,
        hostFixed,
        ...(r.refused ? { refused: r.refused } : {}),
        ...(r.hostRefused ? { hostRefused: r.hostRefused } : {}),
      }),
    );
  } else {
    const lines = [...r.fixed.map(describeFix), ...hostFixed.map(describeHostFix)];
    if (r.hostRefused) lines.push(r.hostRefused);
    if (r.refused) lines.push(r.refused);
    const done = r.fixed.filter((f) => f.action === 'deleted' || f.action === 'would-delete').length;
    const rules = hostFixed.filter((f) => f.action !== 'failed' && f.action !== 'skipped').reduce((n, f) => n + f.rules, 0);
    lines.push(
      o['dry-run']
        ? `dry run: would delete ${done} leftover namespaces and ${rules} host rules; nothing was changed`
        : `deleted ${done} leftover namespaces and ${rules} host rules, ${failed} failures`,
    );
    print(lines.join('\n'));
  }
  return r.refused || failed > 0 ? 1 : 0;
}
