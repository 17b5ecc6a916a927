import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeHost, HostSandbox } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** /metrics as Prometheus' own linter reads it, and the dashboard in the repo against what /metrics exports. */
describeHost('metrics hygiene', () => {
  const box = new HostSandbox();

  it('promtool check metrics finds nothing to say about /metrics', async () => {
    if (!PROMTOOL) {
      if (process.env.CI === 'true') throw new Error("promtool is not installed: .ci/run installs Debian's prometheus package");
      process.stderr.write('\n!!! SKIPPED promtool check: install the prometheus package\n\n');
      return;
    }
    const s = await startServe(box);
    try {
      await get(`${s.url}/metrics`); // a first scrape starts the event-loop window
      const text = (await get(`${s.url}/metrics`)).text;
      const r = await execa(PROMTOOL, ['check', 'metrics'], { input: text, reject: false });
      expect([r.exitCode, r.stdout.trim(), r.stderr.trim()]).toEqual([0, '', '']);
    } finally {
      await s.stop();
    }
  });

  it('every panel of the Grafana dashboard queries a metric vmgate exports', async () => {
    const dash = JSON.parse(readFileSync(new URL('../../deploy/grafana/vmgate.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const s = await startServe(box);
    let text: string;
    try {
      text = (await get(`${s.url}/metrics`)).text;
    } finally {
      await s.stop();
    }
    const exported = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [name!, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
      ),
    );
    expect(dash.panels.length).toBeGreaterThanOrEqual(6);
    for (const p of dash.panels) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        const names = [...t.expr.matchAll(/\b(vmgate_[a-z0-9_]+)/g)].map((m) => m[1]!);
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const n of names) expect(exported.has(n), `${p.title}: ${n} is not exported`).toBe(true);
      }
    }
  });
});
