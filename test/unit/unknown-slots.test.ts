import { describe, expect, it } from 'vitest';
import { checkHostVisibility } from '../../src/checks/host-visibility.js';
import { checkLeftoverTaps } from '../../src/checks/leftover-taps.js';
import { classifySlots } from '../../src/checks/slots.js';
import { attributeBatchErrors } from '../../src/actions/delete-namespaces.js';
import { config, facts, ns, tap } from '../helpers/facts.js';

const seeing = facts([]).visibility;

describe('unknown is not idle', () => {
  it('a tap with carrier is in use even when no holder is visible', () => {
    const view = classifySlots(facts([ns('ns-1', { links: [tap({ carrier: true })] }), ns('ns-2')]), config);
    expect(view.slots.map((s) => [s.name, s.state, s.leftover])).toEqual([
      ['ns-1', 'active', false],
      ['ns-2', 'idle', true],
    ]);
  });

  it('an unreadable process makes every slot unknown, never a leftover', () => {
    const f = facts([ns('ns-1'), ns('ns-2', { processes: [{ pid: 5, comm: 'x' }] })], {
      visibility: { ...seeing, capSysPtrace: false, unreadable: [{ pid: 77, comm: 'sleep', what: 'task 77 ns/net: EACCES', netDevices: null }] },
    });
    const view = classifySlots(f, config);
    expect(view.slots.map((s) => [s.name, s.state, s.leftover])).toEqual([
      ['ns-1', 'unknown', false],
      ['ns-2', 'active', false],
    ]);
    expect(view.slots[0]!.unknownReason).toContain('pid 77 (sleep)');
    const c = checkLeftoverTaps(view, config);
    expect(c.status).toBe('warn');
    expect(c.details.unknownSlots).toEqual([{ netns: 'ns-1', reason: expect.stringContaining('could not be read') }]);
    const v = checkHostVisibility(f);
    expect(v.status).toBe('fail');
    expect(v.message).toContain('CAP_SYS_PTRACE');
  });

  it('an unreadable process whose interfaces match no slot is placed outside them (its /proc/PID/net/dev)', () => {
    const unreadable = [{ pid: 1, comm: 'init', what: 'task 1 ns/net: EACCES', netDevices: ['lo'] }];
    const f = facts([ns('ns-1'), ns('ns-2', { links: [tap(), { ...tap(), name: 'eth0' }] })], { visibility: { ...seeing, unreadable } });
    // ns-1 has only tap0 in this fixture: not {lo}; ns-2 neither. Both judged normally.
    expect(classifySlots(f, config).slots.map((s) => s.state)).toEqual(['idle', 'idle']);
    const g = facts([ns('ns-1', { links: [{ ...tap(), name: 'lo' }] })], { visibility: { ...seeing, unreadable } });
    expect(classifySlots(g, config).slots[0]).toMatchObject({ state: 'unknown', unknownReason: expect.stringContaining('pid 1 (init)') });
    expect(checkHostVisibility(g).status).toBe('warn');
  });

  it('in its own PID namespace vmgate sees nothing: every slot unknown, host-visibility fails', () => {
    const f = facts([ns('ns-1')], { visibility: { ...seeing, pidNamespaceInode: 4026532999 } });
    expect(classifySlots(f, config).slots[0]!.state).toBe('unknown');
    const v = checkHostVisibility(f);
    expect(v.status).toBe('fail');
    expect(v.message).toContain('own PID namespace');
    expect(v.message).toContain('raw_exec');
  });

  it('a name that is not a namespace mount here is unknown, and host-visibility names it', () => {
    const f = facts([ns('ns-1', { nsfs: false, links: null }), ns('ns-2')]);
    const view = classifySlots(f, config);
    expect(view.slots.map((s) => s.state)).toEqual(['unknown', 'idle']);
    expect(view.slots[0]!.unknownReason).toContain('mount propagation');
    const v = checkHostVisibility(f);
    expect(v.status).toBe('fail');
    expect(v.details.notNamespaces).toEqual(['ns-1']);
    expect(v.message).toContain('rshared');
  });

  it('unreadable links make a slot unknown', () => {
    const view = classifySlots(facts([ns('ns-1', { links: null, linkError: 'EPERM' })]), config);
    expect(view.slots[0]).toMatchObject({ state: 'unknown', unknownReason: 'its links could not be read: EPERM' });
  });

  it('host-visibility warns without CAP_SYS_PTRACE when everything was readable anyway, passes with it', () => {
    expect(checkHostVisibility(facts([], { visibility: { ...seeing, capSysPtrace: false } })).status).toBe('warn');
    expect(checkHostVisibility(facts([])).status).toBe('pass');
  });
});

describe('ip -batch errors are attributed to their own line', () => {
  it('maps each error to the line ip names, never by substring', () => {
    const stderr = [
      'Cannot remove namespace file "/run/netns/ns-1": Device or resource busy',
      'Command failed -:1',
      'Cannot remove namespace file "/run/netns/ns-11": No such file or directory',
      'Command failed -:3',
      '',
    ].join('\n');
    const m = attributeBatchErrors(stderr);
    expect([...m.entries()]).toEqual([
      [1, 'Cannot remove namespace file "/run/netns/ns-1": Device or resource busy'],
      [3, 'Cannot remove namespace file "/run/netns/ns-11": No such file or directory'],
    ]);
  });
});
