import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HolderIndex } from '../../src/host/holder-index.js';

/** A /proc-shaped tree: symlinks whose targets read back as the kernel's do (net:[N], /dev/net/tun). */
function fakeProc(): { root: string; add(p: { pid: number; comm: string; netns: number; tun?: string }): void; kill(pid: number): void } {
  const root = mkdtempSync(`${tmpdir()}/vgproc-`);
  return {
    root,
    add(p) {
      const d = `${root}/${p.pid}`;
      mkdirSync(`${d}/ns`, { recursive: true });
      mkdirSync(`${d}/task/${p.pid}/ns`, { recursive: true });
      mkdirSync(`${d}/fd`);
      mkdirSync(`${d}/fdinfo`);
      symlinkSync(`net:[${p.netns}]`, `${d}/ns/net`);
      symlinkSync(`net:[${p.netns}]`, `${d}/task/${p.pid}/ns/net`);
      writeFileSync(`${d}/comm`, `${p.comm}\n`);
      if (p.tun) {
        symlinkSync('/dev/net/tun', `${d}/fd/7`);
        writeFileSync(`${d}/fdinfo/7`, `pos:\t0\nflags:\t02\niff:\t${p.tun}\n`);
      }
    },
    kill(pid) {
      rmSync(`${root}/${pid}`, { recursive: true });
    },
  };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('holder index', () => {
  it('names the holders of a namespace tap from the processes inside it only', () => {
    const proc = fakeProc();
    proc.add({ pid: 10, comm: 'firecracker', netns: 500, tun: 'tap0' });
    proc.add({ pid: 11, comm: 'envd-proxy', netns: 500 });
    proc.add({ pid: 12, comm: 'firecracker', netns: 501, tun: 'tap0' });
    proc.add({ pid: 13, comm: 'other', netns: 4026531840 });
    const idx = new HolderIndex(proc.root);
    expect(idx.holders(500, 'tap0')).toEqual([{ pid: 10, comm: 'firecracker', fd: 7 }]);
    expect(idx.holders(501, 'tap0')).toEqual([{ pid: 12, comm: 'firecracker', fd: 7 }]);
    expect(idx.holders(501, 'tap1')).toEqual([]);
    expect(idx.holders(999, 'tap0')).toEqual([]);
    expect(idx.pidsIn(500).sort()).toEqual([10, 11]);
  });

  it('reads /proc only when told the host changed, and then only new pids', async () => {
    const proc = fakeProc();
    proc.add({ pid: 10, comm: 'firecracker', netns: 500 });
    const idx = new HolderIndex(proc.root);
    expect(idx.holders(500, 'tap0')).toEqual([]);
    expect(idx.catchUps).toBe(1);
    await turn();
    proc.add({ pid: 20, comm: 'firecracker', netns: 500, tun: 'tap0' });
    expect(idx.holders(500, 'tap0')).toEqual([]); // not told: the answer comes from the index
    expect(idx.catchUps).toBe(1);
    await turn();
    idx.touch();
    expect(idx.holders(500, 'tap0')).toEqual([{ pid: 20, comm: 'firecracker', fd: 7 }]);
    expect(idx.catchUps).toBe(2);
  });

  it('a storm of answers in one turn shares one lookup per tap', () => {
    const proc = fakeProc();
    for (let i = 0; i < 200; i++) proc.add({ pid: 100 + i, comm: 'firecracker', netns: 600 + i, tun: 'tap0' });
    const idx = new HolderIndex(proc.root);
    for (let r = 0; r < 3; r++) for (let i = 0; i < 200; i++) expect(idx.holders(600 + i, 'tap0')).toHaveLength(1);
    expect(idx.catchUps).toBe(1);
  });

  it('forgets a process that is gone, and sees a pid that moved at the next background pass', async () => {
    const proc = fakeProc();
    proc.add({ pid: 10, comm: 'firecracker', netns: 500, tun: 'tap0' });
    let now = 0;
    const idx = new HolderIndex(proc.root, { now: () => now });
    expect(idx.holders(500, 'tap0')).toHaveLength(1);
    proc.kill(10);
    await turn();
    expect(idx.holders(500, 'tap0')).toEqual([]);
    // pid 11 is indexed in the host namespace, then (long after it was young) it is found in 501
    proc.add({ pid: 11, comm: 'jailer', netns: 4026531840 });
    idx.touch();
    idx.pidsIn(0);
    now = 10_000;
    proc.kill(11);
    proc.add({ pid: 11, comm: 'firecracker', netns: 501, tun: 'tap0' });
    await turn();
    expect(idx.holders(501, 'tap0')).toEqual([]);
    await idx.resync();
    await turn();
    expect(idx.holders(501, 'tap0')).toEqual([{ pid: 11, comm: 'firecracker', fd: 7 }]);
  });

  it('a young pid is read again at each catch-up: fork, then setns, then attach', async () => {
    const proc = fakeProc();
    const idx = new HolderIndex(proc.root, { now: () => 0 });
    idx.pidsIn(0); // the first look: what exists now existed before vmgate
    proc.add({ pid: 11, comm: 'ip', netns: 4026531840 });
    idx.touch();
    idx.pidsIn(0);
    proc.kill(11);
    proc.add({ pid: 11, comm: 'firecracker', netns: 501, tun: 'tap0' });
    await turn();
    idx.touch();
    expect(idx.holders(501, 'tap0')).toEqual([{ pid: 11, comm: 'firecracker', fd: 7 }]);
  });

  it('processes that existed before the first look are not read again at each catch-up', async () => {
    const proc = fakeProc();
    proc.add({ pid: 10, comm: 'firecracker', netns: 500 });
    const idx = new HolderIndex(proc.root, { now: () => 0 });
    await idx.resync();
    proc.kill(10);
    proc.add({ pid: 10, comm: 'firecracker', netns: 501, tun: 'tap0' });
    idx.touch();
    // same pid, same second: only a background pass would see it moved
    expect(idx.holders(501, 'tap0')).toEqual([]);
  });
});
