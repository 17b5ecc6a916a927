import { describe, expect, it } from 'vitest';
import { allPassed, runChecks } from '../../src/checks/run-checks.js';
import { classifySlots, tapState } from '../../src/checks/slots.js';
import { formatCheckReport, summaryLine } from '../../src/sinks/check-report.js';
import { formatInventory, inventoryJson } from '../../src/sinks/inventory-report.js';
import { config, facts, NOW, ns, tap } from '../helpers/facts.js';

const orchestrator = [{ pid: 100, comm: 'orchestrator' }];
const holder = { pid: 42, comm: 'firecracker', fd: 9 };

describe('slot states', () => {
  it('active when a process is inside or holds the tap, starting when young, idle otherwise', () => {
    const view = classifySlots(
      facts([
        ns('ns-1', { processes: [{ pid: 42, comm: 'firecracker' }], tapHolders: { tap0: [holder] }, links: [tap({ carrier: true })] }),
        ns('ns-2', { processes: [{ pid: 7, comm: 'sleep' }] }),
        ns('ns-3', { createdAtMs: NOW - 5_000 }),
        ns('ns-4'),
        ns('ns-5', { fdHolders: [{ pid: 9, comm: 'orchestrator' }] }),
        ns('other'),
      ]),
      config,
    );
    expect(view.slots.map((s) => [s.name, s.state, s.leftover])).toEqual([
      ['ns-1', 'active', false],
      ['ns-2', 'active', false],
      ['ns-3', 'starting', false],
      ['ns-4', 'idle', true],
      ['ns-5', 'active', false],
    ]);
    expect(view.orphans).toEqual([{ ...holder, netns: 'ns-1', tap: 'tap0' }]);
  });
  it('while an orchestrator runs, idle is its pool and no holder is an orphan', () => {
    const view = classifySlots(facts([ns('ns-1', { tapHolders: { tap0: [holder] } }), ns('ns-4')], { orchestrators: orchestrator }), config);
    expect(view.slots.map((s) => s.leftover)).toEqual([false, false]);
    expect(view.orphans).toEqual([]);
  });
  it('names the tap state in one word', () => {
    const view = classifySlots(
      facts([
        ns('ns-1', { links: [tap({ carrier: true })] }),
        ns('ns-2', { links: [tap({ adminUp: false })] }),
        ns('ns-3', { links: [] }),
        ns('ns-4'),
        ns('ns-5', { links: null, linkError: 'EINVAL' }),
      ]),
      config,
    );
    expect(view.slots.map((s) => tapState(s, 'tap0'))).toEqual(['carrier', 'admin-down', 'no-tap', 'no-carrier', 'unreadable']);
  });
  it('sorts slots numerically', () => {
    const view = classifySlots(facts([ns('ns-10'), ns('ns-9'), ns('ns-100')]), config);
    expect(view.slots.map((s) => s.name)).toEqual(['ns-9', 'ns-10', 'ns-100']);
  });
});

describe('checks', () => {
  const byId = (f: ReturnType<typeof facts>, ignore?: Set<string>) => Object.fromEntries(runChecks(f, config, ignore).results.map((r) => [r.id, r]));

  it('tun-device: each way it can be wrong says how to fix it', () => {
    const t = (over: object) => byId(facts([], { tun: { ...facts([]).tun, ...over } }))['tun-device']!;
    expect(t({}).status).toBe('pass');
    expect(t({ exists: false, statError: 'ENOENT' }).message).toContain('modprobe tun');
    expect(t({ isCharDevice: false }).message).toContain('mknod /dev/net/tun c 10 200');
    expect(t({ major: 1, minor: 3 }).message).toContain('is device 1:3');
    expect(t({ openError: 'EACCES' }).message).toContain('chmod 0666');
    expect(t({ openError: 'ENODEV' }).message).toContain('modprobe tun');
  });

  it('netns-capacity: warns at the fraction, fails at the limit, counts every named namespace', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => ns(i % 2 ? `ns-${i}` : `other-${i}`));
    expect(byId(facts(many(79), { maxNamespaces: 100 }))['netns-capacity']!.status).toBe('pass');
    const warn = byId(facts(many(80), { maxNamespaces: 100 }))['netns-capacity']!;
    expect(warn.status).toBe('warn');
    expect(warn.details).toMatchObject({ total: 80, owned: 40, limit: 100, warnAt: 80 });
    expect(byId(facts(many(100), { maxNamespaces: 100 }))['netns-capacity']!.status).toBe('fail');
    // could not look: unknown (it never blocks, and is never shown as pass)
    expect(byId(facts([], { maxNamespaces: null, maxNamespacesSource: 'unknown' }))['netns-capacity']!.status).toBe('unknown');
  });

  it('leftover-taps: fails on leftovers and orphans, lists them, passes under an orchestrator', () => {
    const f = facts([
      ns('ns-3'),
      ns('ns-1', { processes: [{ pid: 42, comm: 'firecracker' }], tapHolders: { tap0: [holder] }, links: [tap({ carrier: true })] }),
    ]);
    const r = byId(f)['leftover-taps']!;
    expect(r.status).toBe('fail');
    expect(r.details.leftovers).toEqual([{ netns: 'ns-3', tap: 'tap0', tapState: 'no-carrier', ageSeconds: 3600 }]);
    expect(r.details.orphans).toEqual([{ netns: 'ns-1', tap: 'tap0', pid: 42, comm: 'firecracker' }]);
    expect(r.message).toContain('--kill-orphans');
    const under = byId({ ...f, orchestrators: orchestrator })['leftover-taps']!;
    expect(under.status).toBe('pass');
    expect(under.message).toContain('pool');
  });

  it('--ignore demotes failures to warnings; all ignores every check', () => {
    const f = facts([ns('ns-3')], { tun: { ...facts([]).tun, exists: false, statError: 'ENOENT' } });
    expect(allPassed(runChecks(f, config).results)).toBe(false);
    const some = runChecks(f, config, new Set(['leftover-taps'])).results;
    expect(some.map((r) => r.status)).toEqual(['fail', 'pass', 'pass', 'warn', 'unknown', 'pass']);
    expect(allPassed(runChecks(f, config, new Set(['all'])).results)).toBe(true);
  });
});

describe('reports', () => {
  it('one line per check, then a summary', () => {
    const { results } = runChecks(facts([ns('ns-3')]), config);
    const text = formatCheckReport(results, [{ netns: 'ns-3', action: 'deleted' }]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^\[PASS\] tun-device {11}/);
    expect(lines[2]).toMatch(/^\[PASS\] host-visibility {6}vmgate sees the host/);
    expect(lines[3]).toMatch(/^\[FAIL\] leftover-taps {8}no orchestrator runs/);
    expect(lines[4]).toMatch(/^\[UNKN\] host-pressure {8}the kernel's shared tables were not read/);
    expect(lines[5]).toMatch(/^\[PASS\] leftover-host-rules {2}slot layout is none/);
    expect(lines[6]).toBe('[FIX]  deleted ns-3');
    expect(lines[7]).toBe(summaryLine(results, [{ netns: 'ns-3', action: 'deleted' }]));
    expect(lines[7]).toBe(
      '6 checks: 4 passed, 0 warnings, 1 unknown, 1 failed; removed 1 leftover namespaces, ended 0 orphaned VMMs - host is NOT ready for the orchestrator',
    );
  });
  it('inventory table and JSON', () => {
    const view = classifySlots(
      facts([ns('ns-1', { processes: [{ pid: 42, comm: 'firecracker' }], tapHolders: { tap0: [holder] }, links: [tap({ carrier: true })] }), ns('ns-3')]),
      config,
    );
    const table = formatInventory(view, 'tap0').split('\n');
    expect(table[0]).toMatch(/^NETNS\s+STATE\s+AGE\s+NSID\s+TAP0 FLAGS\s+CARRIER\s+HOLDERS\s+PROCESSES$/);
    expect(table[1]).toMatch(/^ns-1\s+active\s+60m\s+1\s+BROADCAST,MULTICAST,UP,LOWER_UP\s+yes\s+42\/firecracker\s+42\/firecracker$/);
    expect(table[2]).toMatch(/^ns-3\s+idle\(leftover\)\s+60m\s+1\s+NO-CARRIER,BROADCAST,MULTICAST,UP\s+no\s+-\s+-$/);
    const j = inventoryJson(view);
    expect(j.namespaces[0]).toEqual({
      name: 'ns-1',
      state: 'active',
      leftover: false,
      ageSeconds: 3600,
      nsid: 1,
      tapBusy: false,
      processes: [{ pid: 42, comm: 'firecracker' }],
      taps: [
        {
          name: 'tap0',
          adminUp: true,
          carrier: true,
          operstate: 'UP',
          flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
          holders: [{ pid: 42, comm: 'firecracker' }],
        },
      ],
    });
  });
});
