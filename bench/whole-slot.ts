import { execa } from 'execa';
import { E2bSlots } from '../test/helpers/e2b-slot.js';
import { judgeHostState } from '../src/checks/host-state.js';
import { hostConfig } from '../src/config/host-config.js';
import { HOST_OPTIONS, parseOptions } from '../src/config/options.js';
import { readFirewall } from '../src/host/firewall.js';

type Row = { case: string; vmgate: string; alternative: string; ratio: string };
const hr = () => Number(process.hrtime.bigint()) / 1e6;
const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * Issue 20's two figures: reading the rules of N live E2B slots (9 each), and reclaiming N leftover slots
 * (namespaces + 9N rules) with one vmgate command, against the orchestrator's way (one `iptables -D` process per
 * rule, timed on a sample and scaled: the whole of it takes minutes).
 */
export async function caseWholeSlot(cli: string, n: number, rows: Row[], results: Record<string, unknown>): Promise<void> {
  const e2b = new E2bSlots('bench', 'vgbench-none');
  try {
    await e2b.removeRules();
    const idx = Array.from({ length: n }, (_, i) => i + 1);
    log(`whole slot: creating ${n} E2B slots (namespace, tap, veth, route, 9 rules each)`);
    const tc = hr();
    await e2b.create(idx);
    const createMs = hr() - tc;
    const config = hostConfig(parseOptions('bench', e2b.flags(), HOST_OPTIONS, {}));
    const reads: number[] = [];
    let rules = 0;
    for (let i = 0; i < 5; i++) {
      const t = hr();
      const fw = await readFirewall();
      const named = new Map(idx.map((k) => [k, e2b.ns(k)]));
      const view = judgeHostState({
        layout: config.slotLayout!,
        facts: { links: [], routes: [], firewall: fw, unnamedHolders: new Map() },
        namedIndexes: named,
        namedNsids: new Set(),
      });
      reads.push(hr() - t);
      rules = [...view.slots.values()].reduce((k, s) => k + s.rules, 0);
    }
    const readMs = reads.sort((a, b) => a - b)[2]!;
    if (rules !== 9 * n) throw new Error(`read ${rules} rules of ${9 * n}`);
    log(`whole slot: reclaim ${n} leftover slots with vmgate check --fix`);
    const t0 = hr();
    const r = await execa('node', [cli, 'check', '--json', '--fix', '--min-age', '0s', '--log-level', 'warn', ...e2b.flags()], { reject: false });
    const reclaimMs = hr() - t0;
    const out = JSON.parse(r.stdout) as { fixed: { action: string }[]; hostFixed: { action: string; rules: number }[] };
    const nsDeleted = out.fixed.filter((f) => f.action === 'deleted').length;
    const rulesDeleted = out.hostFixed.filter((f) => f.action === 'deleted').reduce((k, f) => k + f.rules, 0);
    if (nsDeleted !== n || rulesDeleted !== 9 * n) throw new Error(`reclaim deleted ${nsDeleted} namespaces and ${rulesDeleted} rules of ${n} / ${9 * n}`);
    const left = await e2b.ours();
    if (left.length > 0) throw new Error(`${left.length} rules left after reclaim`);
    // the orchestrator's way: RemoveNetwork runs one iptables -D per rule; timed on 20 slots' rules
    const sample = Math.min(20, n);
    await e2b.addRules(idx.slice(0, sample));
    const t1 = hr();
    for (const k of idx.slice(0, sample)) {
      for (const rule of e2b.rules(k)) await execa('iptables', ['-t', rule.table, '-D', ...rule.line.slice(3).split(' ')]);
    }
    const perRule = (hr() - t1) / (9 * sample);
    const altMs = perRule * 9 * n;
    results.wholeSlot = {
      n,
      createMs,
      readRulesMs: readMs,
      reclaimWholeProcessMs: reclaimMs,
      iptablesDPerRuleMs: perRule,
      iptablesDAllRulesMsScaled: altMs,
      note: `reclaim: the whole vmgate check --fix command (namespaces, then ${9 * n} rules in one iptables-restore); the alternative is one iptables -D process per rule, timed on ${9 * sample} rules and scaled to ${9 * n}, not counting the namespaces`,
    };
    rows.push({
      case: `read rules of ${n} slots`,
      vmgate: `${readMs.toFixed(0)} ms (${9 * n} rules, iptables-save + attribution)`,
      alternative: '-',
      ratio: '-',
    });
    rows.push({
      case: `reclaim ${n} whole slots`,
      vmgate: `${reclaimMs.toFixed(0)} ms (check --fix, ${9 * n} rules + ${n} namespaces)`,
      alternative: `${(altMs / 1000).toFixed(0)} s (iptables -D per rule, ${perRule.toFixed(1)} ms each)`,
      ratio: `${(altMs / reclaimMs).toFixed(0)}x`,
    });
  } finally {
    await e2b.removeRules();
    const { stdout } = await execa('ip', ['netns', 'list'], { reject: false });
    const names = stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((x) => x.startsWith('vgtest-bench-ns-'));
    if (names.length) await execa('ip', ['-force', '-batch', '-'], { input: names.map((x) => `netns del ${x}`).join('\n') + '\n', reject: false });
  }
}
