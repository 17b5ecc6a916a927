import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { resolve } from '../../src/cli/main.js';

const require = createRequire(import.meta.url);
const hcl = require('hcl2-parser') as { parseToObject(text: string): [any, unknown] };
const dir = new URL('../../nomad/', import.meta.url).pathname;

function parse(file: string): any {
  const [obj, err] = hcl.parseToObject(readFileSync(`${dir}${file}`, 'utf8'));
  if (err) throw new Error(`${file}: ${JSON.stringify(err)}`);
  return obj;
}

describe('nomad/ files parse with HashiCorp HCL', () => {
  it.each(readdirSync(dir).filter((f) => /\.hcl(\.example)?$/.test(f)))('%s', (f) => expect(parse(f)).toBeTruthy());
});

describe('the orchestrator job', () => {
  const job = parse('orchestrator.nomad.hcl').job.orchestrator[0];
  const group = job.group.orchestrator[0];
  const task = (name: string) => group.task[name][0];

  it('is a system job with the three tasks', () => {
    expect(job.type).toBe('system');
    expect(Object.keys(group.task).sort()).toEqual(['orchestrator', 'vmgate', 'vmgate-preflight']);
    for (const t of ['orchestrator', 'vmgate', 'vmgate-preflight']) expect(task(t).driver).toBe('raw_exec');
  });
  it('preflight is a prestart task that must exit 0; a failing check retries inside the allocation (no churn)', () => {
    expect(task('vmgate-preflight').lifecycle[0]).toEqual({ hook: 'prestart', sidecar: false });
    expect(task('vmgate-preflight').restart[0]).toEqual({ attempts: 3, interval: '15m', delay: '1m', mode: 'delay' });
    expect(group.restart[0]).toMatchObject({ mode: 'fail' });
    expect(group.restart[0].attempts).toBeGreaterThan(0);
    expect(task('vmgate-preflight').config[0].args).toContain('--fix');
  });
  it('the gate is a prestart sidecar on a loopback port, health-checked on /healthz, with workload identity and a graceful kill', () => {
    const gate = task('vmgate');
    expect(gate.lifecycle[0]).toEqual({ hook: 'prestart', sidecar: true });
    expect(gate.identity[0]).toEqual({ env: true });
    expect(gate.kill_signal).toBe('SIGTERM');
    expect(gate.kill_timeout).toBe('5s');
    expect(group.network[0].port.vmgate[0].host_network).toBe('loopback');
    const svc = group.service[0];
    expect(svc).toMatchObject({ provider: 'nomad', port: 'vmgate' });
    expect(svc.check[0]).toMatchObject({ type: 'http', path: '/healthz' });
    expect(gate.config[0].args).toEqual(expect.arrayContaining(['serve', '--listen', '${NOMAD_ADDR_vmgate}']));
  });
  it('both vmgate tasks come as a checksummed artifact and are configured with VMGATE_* and the node id', () => {
    for (const t of ['vmgate', 'vmgate-preflight']) {
      expect(task(t).artifact[0].options[0].checksum).toBe('sha256:${var.vmgate_sha256}');
      const env = task(t).env[0];
      expect(env.VMGATE_NODE_ID).toBe('${node.unique.id}');
      expect(new RegExp(env.VMGATE_NETNS_PATTERN).test('ns-36')).toBe(true);
    }
  });
  it('the orchestrator gets the gate URL', () => {
    expect(task('orchestrator').env[0].VMGATE_URL).toBe('http://${NOMAD_ADDR_vmgate}/ready-for-vm');
  });
  it("every task's args and VMGATE_* env pass vmgate's own parser", () => {
    for (const t of ['vmgate', 'vmgate-preflight']) {
      // node's own flags (the gate's memory settings) come before the script
      const { args } = task(t).config[0];
      const script = args.findIndex((a: string) => /dist\/src\/cli\/bin\.js$/.test(a));
      expect(args.slice(0, script).every((a: string) => a.startsWith('--'))).toBe(true);
      const argv = args.slice(script + 1).map((a: string) => (a === '${NOMAD_ADDR_vmgate}' ? '127.0.0.1:8431' : a));
      const env = Object.fromEntries(Object.entries(task(t).env[0]).filter(([k]) => k.startsWith('VMGATE_') && k !== 'VMGATE_NODE_ID')) as Record<
        string,
        string
      >;
      expect(() => resolve(argv, env)).not.toThrow();
    }
  });
});

describe('client settings and the ACL policy', () => {
  it('enable raw_exec and a loopback host network', () => {
    const c = parse('client.hcl.example');
    expect(c.client[0].host_network.loopback[0].cidr).toBe('127.0.0.1/32');
    expect(c.plugin.raw_exec[0].config[0].enabled).toBe(true);
  });
  it('grant node write for the metadata', () => {
    expect(parse('vmgate-policy.hcl').node[0].policy).toBe('write');
    expect(readFileSync(`${dir}vmgate-policy.hcl`, 'utf8')).toContain('nomad acl policy apply');
  });
});
