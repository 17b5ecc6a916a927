import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { expect, it } from 'vitest';
import { fakeOrchestrator } from '../helpers/fake-orchestrator.js';
import { describeHost, HostSandbox } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';
import { until } from '../helpers/until.js';

/**
 * serve --orchestrator-status against a real gRPC InfoService on loopback (from the shipped proto): a host that
 * breaks takes the orchestrator out of E2B's placement, and gets it back when fixed; nothing else is ever changed.
 */
describeHost('the orchestrator status follows the host verdict', () => {
  const box = new HostSandbox();

  it('tun device gone: Unhealthy; back: Healthy; an operator drain meanwhile is kept; an orchestrator down never touches the gate', async () => {
    const dir = mkdtempSync(`${tmpdir()}/vgorch-`);
    const tun = `${dir}/tun`;
    symlinkSync('/dev/net/tun', tun);
    const orch = await fakeOrchestrator('Healthy');
    const s = await startServe(
      box,
      '--tun-path',
      tun,
      '--recheck-interval',
      '1s',
      '--orchestrator-status',
      orch.address,
      '--orchestrator-status-hold',
      '1s',
      '--orchestrator-status-state',
      `${dir}/state.json`,
    );
    try {
      await until(async () => /^vmgate_orchestrator_status\{status="Healthy"\} 1$/m.test((await get(`${s.url}/metrics`)).text), 15_000);
      rmSync(tun);
      await until(() => orch.state.status === 'Unhealthy', 15_000);
      expect(orch.state.overrides).toEqual(['Unhealthy']);
      // the override reaches the orchestrator before vmgate writes its line: wait for the line
      await until(() => s.logs().some((l) => /set the orchestrator Unhealthy: .*tun-device/.test(l.msg)), 5_000);
      symlinkSync('/dev/net/tun', tun);
      await until(() => orch.state.status === 'Healthy', 15_000);
      expect(orch.state.overrides).toEqual(['Unhealthy', 'Healthy']);
      // broken again, then an operator drains: vmgate never sets it back
      rmSync(tun);
      await until(() => orch.state.status === 'Unhealthy', 15_000);
      orch.state.status = 'Draining';
      symlinkSync('/dev/net/tun', tun);
      await until(async () => (await get(`${s.url}/ready-for-vm`)).status === 200, 15_000);
      await new Promise((r) => setTimeout(r, 3000));
      expect(orch.state.status).toBe('Draining');
      expect(orch.state.overrides).toEqual(['Unhealthy', 'Healthy', 'Unhealthy']);
      // the orchestrator refusing: the gate answers as before, one log line for the kind of failure
      orch.state.refuse = true;
      await until(async () => /^vmgate_orchestrator_errors_total\{code="UNAVAILABLE"\} [1-9]/m.test((await get(`${s.url}/metrics`)).text), 15_000);
      expect((await get(`${s.url}/ready-for-vm`)).status).toBe(200);
      await until(() => s.logs().some((l) => /orchestrator status not read or not set/.test(l.msg)), 5_000);
      expect(s.logs().filter((l) => /orchestrator status not read or not set/.test(l.msg))).toHaveLength(1);
    } finally {
      expect(await s.stop()).toBe(0);
      await orch.close();
    }
  });
});
