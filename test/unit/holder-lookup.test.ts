import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HolderLookup } from '../../src/host/holder-lookup.js';

/** A /proc-shaped tree: symlinks whose targets read back as the kernel's do (net:[N], /dev/net/tun). */
function fakeProc(procs: { pid: number; comm: string; netns: number; tun?: string }[]): string {
  const root = mkdtempSync(`${tmpdir()}/vgproc-`);
  for (const p of procs) {
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
  }
  return root;
}

describe('holder lookup shared by the answers of one event-loop turn', () => {
  it('finds the holders of a namespace tap and nothing else', () => {
    const proc = fakeProc([
      { pid: 10, comm: 'firecracker', netns: 500, tun: 'tap0' },
      { pid: 11, comm: 'envd-proxy', netns: 500 },
      { pid: 12, comm: 'firecracker', netns: 501, tun: 'tap0' },
      { pid: 13, comm: 'other', netns: 4026531840 },
    ]);
    const l = new HolderLookup(proc);
    expect(l.holders(500, 'tap0')).toEqual([{ pid: 10, comm: 'firecracker', fd: 7 }]);
    expect(l.holders(501, 'tap0')).toEqual([{ pid: 12, comm: 'firecracker', fd: 7 }]);
    expect(l.holders(501, 'tap1')).toEqual([]);
    expect(l.holders(999, 'tap0')).toEqual([]);
  });

  it('a storm of answers in one turn makes one pass over /proc; the next turn looks again', async () => {
    const procs = Array.from({ length: 200 }, (_, i) => ({ pid: 100 + i, comm: 'firecracker', netns: 600 + i, tun: 'tap0' }));
    const l = new HolderLookup(fakeProc(procs));
    for (let i = 0; i < 200; i++) expect(l.holders(600 + i, 'tap0')).toHaveLength(1);
    expect(l.passes).toBe(1);
    await new Promise((r) => setImmediate(r));
    l.holders(600, 'tap0');
    expect(l.passes).toBe(2);
  });
});
