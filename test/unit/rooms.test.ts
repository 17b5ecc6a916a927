import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const src = join(root, 'src');
const rules = JSON.parse(readFileSync(join(root, 'rooms.json'), 'utf8')) as { layers: Record<string, number>; leaves: string[] };

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every relative import (static, type-only and dynamic) as [from file, to file], both relative to src/. */
function imports(): [string, string][] {
  const out: [string, string][] = [];
  for (const f of files(src)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)) out.push([relative(src, f), relative(src, normalize(join(dirname(f), m[1]!)))]);
  }
  return out;
}

const roomOf = (p: string) => p.split('/')[0]!;

describe('rooms import one way (rooms.json, ARCHITECTURE.md)', () => {
  it('every room is known', () => {
    const rooms = new Set(files(src).map((f) => roomOf(relative(src, f))));
    for (const r of rooms) expect(r in rules.layers || rules.leaves.includes(r), `room ${r} is in neither layers nor leaves of rooms.json`).toBe(true);
  });

  it('no import goes up or sideways, and leaves import no room', () => {
    const bad: string[] = [];
    for (const [from, to] of imports()) {
      const a = roomOf(from);
      const b = roomOf(to);
      if (a === b || rules.leaves.includes(b)) continue;
      if (rules.leaves.includes(a) || !(rules.layers[b]! < rules.layers[a]!)) bad.push(`${from} -> ${to}`);
    }
    expect(bad).toEqual([]);
  });

  it('no cycle between files', () => {
    const graph = new Map<string, string[]>();
    for (const [from, to] of imports()) graph.set(from, [...(graph.get(from) ?? []), to.replace(/\.js$/, '.ts')]);
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (n: string, path: string[]) => {
      if (state.get(n) === 'done') return;
      if (state.get(n) === 'open') return void cycles.push([...path.slice(path.indexOf(n)), n].join(' -> '));
      state.set(n, 'open');
      for (const m of graph.get(n) ?? []) visit(m, [...path, n]);
      state.set(n, 'done');
    };
    for (const n of graph.keys()) visit(n, []);
    expect(cycles).toEqual([]);
  });

  it('only actions/ changes the host (ARCHITECTURE.md): the calls that delete, signal, or add to the kernel live there', () => {
    const changes: [RegExp, string][] = [
      [/request\(RTM_NEWNSID/, 'nsid assignment'],
      [/pidfd_send_signal\(/, 'signalling a process'],
      [/process\.kill\(/, 'signalling a process'],
      [/'--noflush'/, 'firewall rule deletion'],
      [/netns del \$\{[a-z]+\}\\n/, 'namespace deletion'],
      [/route del \$\{/, 'route deletion'],
    ];
    const bad: string[] = [];
    for (const f of files(src)) {
      const rel = relative(src, f);
      if (roomOf(rel) === 'actions') continue;
      const text = readFileSync(f, 'utf8');
      for (const [re, what] of changes) if (re.test(text)) bad.push(`${rel}: ${what}`);
    }
    expect(bad).toEqual([]);
  });
});
