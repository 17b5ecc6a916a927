import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { HostVerdict } from '../../src/gate/host-verdict.js';
import { OrchestratorClient, OrchestratorError } from '../../src/orchestrator/client.js';
import { OrchestratorStatusSync } from '../../src/sinks/orchestrator-status.js';
import { fakeOrchestrator } from '../helpers/fake-orchestrator.js';

const ready: HostVerdict = { ready: true, checks: [], checkedAt: '' };
const notReady: HostVerdict = {
  ready: false,
  checks: [{ id: 'tun-device', status: 'fail', message: 'missing', details: {} }],
  checkedAt: '',
};

/** A sync against an in-memory orchestrator and a hand-moved clock. */
function setup(initial: 'Healthy' | 'Draining' | 'Unhealthy' | 'Standby' = 'Healthy', stateFile = `${mkdtempSync(`${tmpdir()}/vgorch-`)}/state.json`) {
  let now = 0;
  const orch = { status: initial as string, overrides: [] as string[], down: false };
  const client = {
    address: 'fake:5008',
    serviceInfo: () =>
      orch.down
        ? Promise.reject(new OrchestratorError('UNAVAILABLE', 'ServiceInfo: UNAVAILABLE'))
        : Promise.resolve({ nodeId: 'n', status: orch.status as 'Healthy', changedAtMs: null, sandboxesRunning: null }),
    setStatus: (s: 'Healthy' | 'Unhealthy') => {
      orch.overrides.push(s);
      orch.status = s;
      return Promise.resolve();
    },
  };
  const sync = new OrchestratorStatusSync(client, pino({ level: 'silent' }), { holdMs: 10_000, stateFile, now: () => now });
  const at = async (ms: number, v?: HostVerdict) => {
    now = ms;
    if (v) sync.onVerdict(v);
    await sync.tick();
  };
  return { sync, orch, at, stateFile };
}

describe('the orchestrator status follows the host verdict (Healthy <-> Unhealthy only, only what vmgate set)', () => {
  it('not ready for the hold time: Unhealthy; ready for the hold time again: Healthy', async () => {
    const { orch, at, stateFile } = setup();
    await at(0, notReady);
    await at(9_000);
    expect(orch.overrides).toEqual([]);
    await at(10_000);
    expect(orch.overrides).toEqual(['Unhealthy']);
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ setUnhealthy: true, reason: 'tun-device' });
    await at(11_000, ready);
    await at(20_000);
    expect(orch.overrides).toEqual(['Unhealthy']);
    await at(21_000);
    expect(orch.overrides).toEqual(['Unhealthy', 'Healthy']);
  });

  it('a verdict flipping at every evaluation never reaches the orchestrator', async () => {
    const { orch, at } = setup();
    for (let t = 0; t < 120_000; t += 1_000) await at(t, t % 2000 === 0 ? notReady : ready);
    expect(orch.overrides).toEqual([]);
  });

  it('Draining and Standby are never changed, and never set Healthy afterwards', async () => {
    for (const s of ['Draining', 'Standby'] as const) {
      const { orch, at } = setup(s);
      await at(0, notReady);
      await at(30_000);
      await at(31_000, ready);
      await at(60_000);
      expect(orch.overrides).toEqual([]);
      expect(orch.status).toBe(s);
    }
  });

  it('an operator who drains after vmgate set Unhealthy keeps it: vmgate lets go', async () => {
    const { orch, at, stateFile } = setup();
    await at(0, notReady);
    await at(10_000);
    orch.status = 'Draining';
    await at(11_000, ready);
    await at(30_000);
    expect(orch.overrides).toEqual(['Unhealthy']);
    expect(orch.status).toBe('Draining');
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual({ setUnhealthy: false });
  });

  it('restarted while it had set Unhealthy, vmgate still restores Healthy once ready (the state file)', async () => {
    const first = setup();
    await first.at(0, notReady);
    await first.at(10_000);
    const again = setup('Unhealthy', first.stateFile);
    await again.at(0, ready);
    await again.at(10_000);
    expect(again.orch.overrides).toEqual(['Healthy']);
  });

  it('an orchestrator that is down is retried with backoff, counted, and never throws', async () => {
    const { sync, orch, at } = setup();
    orch.down = true;
    await at(0, notReady);
    await at(500); // within the backoff: not asked
    expect(sync.errors.get('UNAVAILABLE')).toBe(1);
    await at(10_000);
    await at(10_500);
    expect(sync.errors.get('UNAVAILABLE')).toBe(2);
    await at(12_000);
    expect(sync.errors.get('UNAVAILABLE')).toBe(3);
    orch.down = false;
    await at(20_000);
    expect(orch.overrides).toEqual(['Unhealthy']);
  });
});

describe('the gRPC client against a real InfoService on loopback (the shipped proto)', () => {
  it('reads the status and overrides it; Draining -> Standby is refused with FailedPrecondition', async () => {
    const orch = await fakeOrchestrator('Healthy');
    const client = new OrchestratorClient(orch.address);
    try {
      expect(await client.serviceInfo()).toEqual({ nodeId: 'node-1', status: 'Healthy', changedAtMs: 1_700_000_000_000, sandboxesRunning: 3 });
      await client.setStatus('Unhealthy');
      expect(orch.state.status).toBe('Unhealthy');
      orch.state.refuse = true;
      await expect(client.serviceInfo()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      client.close();
      await orch.close();
    }
  });
});
