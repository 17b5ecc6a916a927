import { describe, expect, it } from 'vitest';
import { diagnose } from '../../src/checks/diagnose-verdict.js';
import type { SlotDetails } from '../../src/host/slot-details.js';

const base: SlotDetails = {
  netns: 'ns-36',
  exists: true,
  nsid: 3,
  ageSeconds: 300,
  processes: [],
  mounts: [],
  fdHolders: [],
  tap: {
    name: 'tap0',
    exists: true,
    adminUp: true,
    carrier: true,
    operstate: 'UP',
    flags: [],
    holders: [{ pid: 9, comm: 'firecracker', fd: 20 }],
    unattached: [],
  },
  vmm: null,
  interfaces: [],
  defaultRoute: null,
};
const with_ = (tap: Partial<SlotDetails['tap']>, over: Partial<SlotDetails> = {}) =>
  diagnose({ ...base, ...over, tap: { ...base.tap, ...tap } }, 'tap0').verdict;

describe('diagnose verdicts, in the order an operator rules things out', () => {
  it('each situation', () => {
    expect(with_({}, { exists: false })).toBe('netns-not-found');
    expect(with_({ exists: false })).toBe('no-tap');
    expect(with_({ adminUp: false, carrier: false })).toBe('tap-admin-down');
    expect(
      with_({
        holders: [
          { pid: 9, comm: 'firecracker', fd: 20 },
          { pid: 10, comm: 'firecracker', fd: 20 },
        ],
      }),
    ).toBe('tap-busy');
    expect(with_({ holders: [], carrier: false })).toBe('no-vmm');
    expect(with_({ holders: [], carrier: false, unattached: [{ pid: 9, comm: 'firecracker', fd: 20 }] })).toBe('vmm-not-attached');
    expect(with_({ carrier: false })).toBe('no-carrier');
    expect(with_({}, { guest: { address: '169.254.0.21:49983', ok: false, error: 'ECONNREFUSED' } })).toBe('guest-unreachable');
    expect(with_({}, { guest: { address: '169.254.0.21:49983', ok: true, latencyMs: 0.75 } })).toBe('healthy');
  });
  it('tap-busy names the extra holders to end', () => {
    const d = diagnose(
      {
        ...base,
        tap: {
          ...base.tap,
          holders: [
            { pid: 9, comm: 'fc', fd: 1 },
            { pid: 10, comm: 'fc', fd: 1 },
          ],
        },
      },
      'tap0',
    );
    expect(d.cause).toContain('EBUSY');
    expect(d.next).toContain('kill 10');
  });
});
