import { execa } from 'execa';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { enteredAsListed, LinkReader, readSlotLinks } from '../../src/host/links.js';
import { readNsids } from '../../src/host/named-namespaces.js';
import type { LinkFacts } from '../../src/host/types.js';
import { describeHost, HostSandbox, json, runCli } from '../helpers/host.js';

/**
 * check, inventory and cleanup read each slot's links from inside it (a python3 process entering the namespaces in
 * turn): the same facts as the host namespace's targeted dump, without its nsid walk; what is not a namespace is
 * an error for that name, never links.
 */
describeHost('slot links read from inside each namespace', () => {
  const box = new HostSandbox();
  const dir = mkdtempSync(`${tmpdir()}/vgtest-inside-`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const brief = (links: LinkFacts[] | Error | undefined) =>
    links instanceof Error || links === undefined ? links : links.map((l) => ({ name: l.name, adminUp: l.adminUp, carrier: l.carrier, flags: l.flags }));

  it('agrees with the targeted dump: carrier of an attached tap, a down tap, the veth, lo', async () => {
    const held = await box.slot('held');
    const down = await box.slot('down', { up: false });
    const vmm = await box.holder(held);
    const names = [held, down];
    const inside = await readSlotLinks(names.map((name) => ({ name, inode: statSync(`/run/netns/${name}`).ino })));
    const nsids = await readNsids(names);
    const reader = new LinkReader(2);
    try {
      const dumps = await reader.readMany(names.map((n) => nsids.get(n)!));
      for (const n of names) expect(brief(inside.get(n)), n).toEqual(brief(dumps.get(nsids.get(n)!)));
    } finally {
      reader.close();
    }
    const tap = (n: string) => (inside.get(n) as LinkFacts[]).find((l) => l.name === 'tap0');
    expect(tap(held)).toMatchObject({ adminUp: true, carrier: true });
    expect(tap(down)).toMatchObject({ adminUp: false, carrier: false });
    expect((inside.get(held) as LinkFacts[]).map((l) => l.name).sort()).toEqual(['eth0', 'lo', 'tap0']);
    await box.stop(vmm);
  });

  it('a plain file, a FIFO, a symlink to a namespace and a vanished name are errors, never links', async () => {
    const real = await box.slot('target');
    writeFileSync(`${dir}/plain`, '');
    await execa('mkfifo', [`${dir}/fifo`]);
    symlinkSync(`/run/netns/${real}`, `${dir}/link`);
    const r = await readSlotLinks(
      ['plain', 'fifo', 'link', 'gone'].map((name) => ({ name })),
      dir,
    );
    for (const name of ['plain', 'fifo', 'link', 'gone']) expect(r.get(name), name).toBeInstanceOf(Error);
    expect((r.get('gone') as Error).message).toMatch(/No such file/);
  });

  it('links read in a namespace made again under the listed name are not taken for the listed one', () => {
    const links: LinkFacts[] = [];
    expect(enteredAsListed({ inode: 7, links }, 7)).toBe(links);
    expect(enteredAsListed({ inode: null, links }, 7)).toBe(links);
    expect((enteredAsListed({ inode: 8, links }, 7) as Error).message).toContain('deleted and made again');
  });

  it('inventory gives nsids only with --nsids (table column and JSON field)', async () => {
    const ns = await box.slot('inv');
    const plain = json(await runCli(['inventory', '--json', ...box.flags()]));
    expect(plain.namespaces.find((n: any) => n.name === ns)).not.toHaveProperty('nsid');
    const withIds = json(await runCli(['inventory', '--json', '--nsids', ...box.flags()]));
    expect(withIds.namespaces.find((n: any) => n.name === ns).nsid).toEqual((await readNsids([ns])).get(ns));
    expect((await runCli(['inventory', ...box.flags()])).stdout).not.toMatch(/\bNSID\b/);
    expect((await runCli(['inventory', '--nsids', ...box.flags()])).stdout).toMatch(/\bNSID\b/);
  });
});
