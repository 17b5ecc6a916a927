import { cleanup } from '../../actions/cleanup.js';
import { durationOption, hostConfig, logConfig } from '../../config/host-config.js';
import { HOST_OPTIONS, type ParsedOptions } from '../../config/options.js';
import { describeFix } from '../../sinks/check-report.js';
import { createLogger } from '../../sinks/log.js';
import { JSON_OPTION, print, type Command } from '../command.js';
import { FIX_OPTIONS } from './check.js';

export const cleanupCommand: Command = {
  name: 'cleanup',
  synopsis: '[--dry-run] [--kill-orphans] [--json]',
  summary: "the --fix step alone: delete leftover slot namespaces (and orphaned VMMs with --kill-orphans)",
  options: [...HOST_OPTIONS, { name: 'dry-run', kind: 'boolean', help: 'list what would be done and change nothing' }, ...FIX_OPTIONS, JSON_OPTION],
  async run(o: ParsedOptions) {
    const config = hostConfig(o);
    const log = createLogger(logConfig(o));
    const killGraceMs = durationOption(o, 'kill-grace');
    const r = await cleanup(config, { dryRun: Boolean(o['dry-run']), killOrphans: Boolean(o['kill-orphans']), killGraceMs, settleMs: 200 }, log);
    if (r.refused) log.warn({}, `cleanup: ${r.refused}`);
    const failed = r.fixed.filter((f) => f.action === 'failed').length;
    if (o.json) {
      print(JSON.stringify({ ok: !r.refused && failed === 0, fixed: r.fixed, ...(r.refused ? { refused: r.refused } : {}) }));
    } else {
      const lines = r.fixed.map(describeFix);
      if (r.refused) lines.push(r.refused);
      const done = r.fixed.filter((f) => f.action === 'deleted' || f.action === 'would-delete').length;
      lines.push(o['dry-run'] ? `dry run: would delete ${done} leftover namespaces; nothing was changed` : `deleted ${done} leftover namespaces, ${failed} failures`);
      print(lines.join('\n'));
    }
    return r.refused || failed > 0 ? 1 : 0;
  },
};
