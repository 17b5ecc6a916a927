import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { E2bSlots, restore } from '../helpers/e2b-slot.js';
import { readHostLinks, readHostLinksByName } from '../../src/host/host-side.js';
import { until } from '../helpers/until.js';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';
import { get, startServe } from '../helpers/serve.js';

/**
 * Issue 20 on the real kernel and real iptables rules: a slot is its namespace plus its host veth, route and 9
 * firewall rules; reclaim removes exactly the dead slots' host state and nothing else.
 */
describeHost('the whole slot', () => {
  const box = new HostSandbox();
  const e2b = new E2bSlots(box.id, box.orchestratorComm);
  afterAll(() => e2b.removeRules());
  const check = async (...extra: string[]) => {
    const r = await runCli(['check', '--json', '--min-age', '0s', ...e2b.flags(...extra)]);
    return { r, out: json(r) };
  };
  const hostCheck = (out: any) => out.checks.find((c: any) => c.id === 'leftover-host-rules');
  const without = (all: string[], gone: string[]) => all.filter((l) => !gone.includes(l));

  it('namespace-only deletion leaves the rules; check names the slots; --fix removes exactly those rules', async () => {
    await e2b.create([1, 2, 3]);
    const vmm = await box.holder(e2b.ns(1));
    const before = await E2bSlots.ruleset();
    // as vmgate's old reclaim did: only the namespaces of slots 2 and 3
    await execa('ip', ['-batch', '-'], { input: `netns del ${e2b.ns(2)}\nnetns del ${e2b.ns(3)}\n` });
    await until(async () => !(await execa('ip', ['-j', 'link', 'show'])).stdout.includes(`"${e2b.veth(3)}"`));
    let { out } = await check();
    expect(hostCheck(out).status).toBe('fail');
    expect(hostCheck(out).message).toContain('18 firewall rules');
    expect(hostCheck(out).details.orphaned.map((o: any) => o.slot)).toEqual([2, 3]);
    const inv = json(await runCli(['inventory', '--json', '--min-age', '0s', ...e2b.flags()]));
    expect(inv.namespaces.find((n: any) => n.name === e2b.ns(1)).host).toMatchObject({ vethPresent: true, routePresent: true, rules: 9, expectedRules: 9 });
    expect(inv.hostState.orphaned.map((o: any) => [o.slot, o.rules.length])).toEqual([
      [2, 9],
      [3, 9],
    ]);
    ({ out } = await check('--fix'));
    expect(out.hostFixed).toEqual([
      { slot: 2, veth: e2b.veth(2), action: 'deleted', rules: 9, routes: 0 },
      { slot: 3, veth: e2b.veth(3), action: 'deleted', rules: 9, routes: 0 },
    ]);
    expect(hostCheck(out).status).toBe('pass');
    const gone = [...e2b.rules(2), ...e2b.rules(3)].map((r) => r.line);
    expect(await E2bSlots.ruleset()).toEqual(without(before, gone));
    expect((await e2b.ours()).sort()).toEqual(
      e2b
        .rules(1)
        .map((r) => r.line)
        .sort(),
    );
    await box.stop(vmm);
  });

  it('host links by name: the peer asked agrees with the dump, others are unasked; a sysfs of another namespace is not believed', async () => {
    await e2b.create([30, 31]);
    const dump = await readHostLinks();
    const byName = await readHostLinksByName((n) => n === e2b.veth(30));
    expect(byName).not.toBeNull();
    const of = (links: { name: string; linkNetnsid: number | null | undefined }[], n: string) => links.find((l) => l.name === n);
    expect(of(byName!, e2b.veth(30))!.linkNetnsid).toEqual(of(dump, e2b.veth(30))!.linkNetnsid);
    expect(typeof of(dump, e2b.veth(30))!.linkNetnsid).toBe('number');
    expect(of(byName!, e2b.veth(31))).toEqual({ name: e2b.veth(31), linkNetnsid: undefined });
    // a listing whose links are not vmgate's (another namespace's sysfs): the caller reads the dump instead
    const other = mkdtempSync(`${tmpdir()}/vgtest-sysnet-`);
    for (const [n, i] of [
      ['lo', 1],
      [`${box.id}x0`, 4_000_000],
      [`${box.id}x1`, 4_000_001],
    ] as const) {
      mkdirSync(`${other}/${n}`);
      writeFileSync(`${other}/${n}/ifindex`, `${i}\n`);
    }
    expect(await readHostLinksByName(() => false, other)).toBeNull();
    rmSync(other, { recursive: true, force: true });
  });

  it('leftover slots reclaimed whole: namespace, veth, route and rules', async () => {
    await e2b.create([4]);
    const { out } = await check('--fix');
    expect(out.fixed).toContainEqual({ netns: e2b.ns(4), action: 'deleted' });
    expect(out.hostFixed).toContainEqual({ slot: 4, veth: e2b.veth(4), action: 'deleted', rules: 9, routes: 0 });
    expect(await e2b.ours()).not.toContain(e2b.rules(4)[0]!.line);
    expect((await execa('ip', ['-j', 'route'])).stdout).not.toContain(e2b.hostIp(4));
  });

  it('duplicates after an index is reused are reported; --dedupe-rules leaves exactly one copy', async () => {
    await e2b.create([5]);
    await e2b.addRules([5]);
    const holder = await box.holder(e2b.ns(5));
    let { out } = await check();
    expect(hostCheck(out).status).toBe('warn');
    expect(hostCheck(out).details.duplicateRules).toBe(9);
    ({ out } = await check('--fix'));
    expect((await e2b.ours()).filter((l) => l.includes(e2b.veth(5)) || l.includes(e2b.hostIp(5) + '/'))).toHaveLength(18);
    ({ out } = await check('--fix', '--dedupe-rules'));
    expect(out.hostFixed).toContainEqual({ slot: 5, veth: e2b.veth(5), action: 'deduplicated', rules: 1, routes: 0 });
    expect((await e2b.ours()).filter((l) => l.includes(e2b.veth(5)) || l.includes(e2b.hostIp(5) + '/')).sort()).toEqual(
      e2b
        .rules(5)
        .map((r) => r.line)
        .sort(),
    );
    await box.stop(holder);
  });

  it('an unnamed namespace still holding its veth: listed with its holder, its rules are not orphaned', async () => {
    await e2b.create([6]);
    const p = await box.command(['ip', 'netns', 'exec', e2b.ns(6), 'bash', '-c', 'echo ready; exec sleep 300']);
    await execa('ip', ['netns', 'del', e2b.ns(6)]);
    const { out } = await check('--fix');
    const unnamed = hostCheck(out).details.unnamedSlotNamespaces.find((u: any) => u.slot === 6);
    expect(unnamed, JSON.stringify(hostCheck(out))).toMatchObject({ veth: e2b.veth(6), holders: [{ pid: p.pid }] });
    expect(hostCheck(out).details.orphaned.map((o: any) => o.slot)).not.toContain(6);
    expect(out.checks.find((c: any) => c.id === 'leftover-taps').details.unnamedSlotNamespaces).toBeGreaterThanOrEqual(1);
    expect((await e2b.ours()).filter((l) => l.includes(e2b.veth(6)))).toHaveLength(8);
    await box.stop(p);
  });

  it("a foreign rule naming a dead slot's veth with another target is kept", async () => {
    const foreign = `-A FORWARD -i ${e2b.veth(7)} -j DROP`;
    await e2b.addRules([7]);
    await restore('nft', [{ table: 'filter', line: foreign }]);
    const { out } = await check('--fix');
    expect(out.hostFixed).toContainEqual({ slot: 7, veth: e2b.veth(7), action: 'deleted', rules: 9, routes: 0 });
    expect(await e2b.ours()).toContain(foreign);
    expect(hostCheck(out).details.foreignRules).toBeGreaterThanOrEqual(1);
    await restore('nft', [{ table: 'filter', line: `-D${foreign.slice(2)}` }]);
  });

  it('rules unreadable (iptables not on PATH): nothing of the host state is deleted and the check says why', async () => {
    await e2b.addRules([8]);
    const bin = mkdtempSync(`${tmpdir()}/vgbin-`);
    symlinkSync('/usr/sbin/ip', `${bin}/ip`);
    symlinkSync('/usr/bin/python3', `${bin}/python3`);
    symlinkSync(process.execPath, `${bin}/node`);
    const r = await runCli(['check', '--json', '--fix', '--min-age', '0s', ...e2b.flags()], { PATH: bin });
    const out = json(r);
    expect(hostCheck(out).status).toBe('unknown');
    expect(hostCheck(out).message).toContain('iptables-nft-save is not installed');
    expect(out.hostFixed).toEqual([]);
    expect((await e2b.ours()).filter((l) => l.includes(e2b.veth(8)))).toHaveLength(8);
  });

  it('a slot being created right now (namespace there, rules half-added) is in use, not orphaned', async () => {
    await execa('ip', ['netns', 'add', e2b.ns(9)]);
    await e2b.addRules([9], 'nft', 4);
    const { out } = await check();
    expect(hostCheck(out).details.orphaned.map((o: any) => o.slot)).not.toContain(9);
    const inv = json(await runCli(['inventory', '--json', '--min-age', '1h', ...e2b.flags()]));
    expect(inv.namespaces.find((n: any) => n.name === e2b.ns(9)).host).toMatchObject({ vethPresent: false, rules: 4, expectedRules: 9 });
    await execa('ip', ['netns', 'del', e2b.ns(9)]);
  });

  it('300 dead slots (2,700 rules) are reclaimed in one batch', async () => {
    const idx = Array.from({ length: 300 }, (_, i) => 1000 + i);
    await e2b.addRules(idx);
    const { out } = await check('--fix');
    expect(out.hostFixed.filter((f: any) => f.slot >= 1000 && f.action === 'deleted')).toHaveLength(300);
    expect((await e2b.ours()).filter((l) => /-(1[0-2]\d\d) /.test(l))).toEqual([]);
  });

  it('serve: orphaned rules warn in the host gate (never 503) and show in /metrics', async () => {
    await e2b.addRules([30]);
    await e2b.create([31]);
    const s = await startServe(box, ...e2b.flags('--host-state-interval', '1s'));
    try {
      let body = '';
      await until(async () => {
        body = (await get(`${s.url}/metrics`)).text;
        return /^vmgate_orphaned_host_rules (\d+)$/m.test(body) && Number(/^vmgate_orphaned_host_rules (\d+)$/m.exec(body)![1]) >= 9;
      });
      expect(body).toMatch(/^vmgate_unnamed_slot_namespaces 0$/m);
      const r = await get(`${s.url}/ready-for-vm`);
      expect(r.status, s.describe()).toBe(200);
      expect(r.body.checks.find((c: any) => c.id === 'leftover-host-rules')).toMatchObject({ status: 'warn' });
    } finally {
      await s.stop();
    }
    await check('--fix');
  });

  it.runIf(existsSync('/proc/net/ip_tables_names') || existsSync('/usr/sbin/iptables-legacy-save'))('the legacy backend too', async () => {
    await e2b.addRules([20], 'legacy');
    const { out } = await check('--fix');
    expect(out.hostFixed).toContainEqual({ slot: 20, veth: e2b.veth(20), action: 'deleted', rules: 9, routes: 0 });
    expect(await e2b.ours('legacy')).toEqual([]);
  });
});
