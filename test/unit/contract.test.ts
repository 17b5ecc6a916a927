import { describe, expect, it } from 'vitest';
import { WAIT_STATUS } from '../../src/gate/wait-answer.js';
import { contractViolation, OPENAPI } from '../helpers/contract.js';

/** The slot gate's reasons and statuses, in the code and in the contract (openapi.json), are the same. */
describe('the HTTP contract (openapi.json)', () => {
  it('is OpenAPI 3.1 and lists every endpoint the gate serves', () => {
    expect((OPENAPI as unknown as { openapi: string }).openapi).toBe('3.1.0');
    expect(Object.keys(OPENAPI.paths).sort()).toEqual(['/diagnose', '/healthz', '/inventory', '/metrics', '/openapi.json', '/ready-for-vm']);
  });

  it('lists every reason code of WAIT_STATUS, and no other', () => {
    expect([...OPENAPI.components.schemas.WaitReason!.enum!].sort()).toEqual(Object.keys(WAIT_STATUS).sort());
  });

  it("documents each reason's HTTP status on /ready-for-vm, and an answer with it validates", () => {
    for (const [reason, status] of Object.entries(WAIT_STATUS)) {
      const body = { ready: reason === 'carrier-up', reason, netns: 'ns-1', iface: 'tap0', carrier: false, waitedMs: 1, holders: [] };
      expect(contractViolation('/ready-for-vm', status, 'application/json', body), reason).toBeNull();
    }
  });

  it('rejects what the contract does not say: an unknown reason, a field too many, an undocumented status', () => {
    expect(contractViolation('/ready-for-vm', 504, 'application/json', { ready: false, reason: 'later', netns: 'ns-1', iface: 'tap0' })).toContain('reason');
    expect(
      contractViolation('/ready-for-vm', 504, 'application/json', { ready: false, reason: 'timeout', netns: 'ns-1', iface: 'tap0', extra: 1 }),
    ).not.toBeNull();
    expect(contractViolation('/ready-for-vm', 418, 'application/json', {})).toContain('does not list');
  });
});
