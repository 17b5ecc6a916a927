import { describe, expect, it } from 'vitest';
import { LinkStore } from '../../src/gate/link-store.js';
import { LiveFacts } from '../../src/gate/live-facts.js';
import { NAMES_COMPARE_MIN_MS, NAMES_VERIFY_MS, NetnsIndex } from '../../src/gate/netns-index.js';
import { flagBitsLabels } from '../../src/host/link-flags.js';
import { linkDumpRequest, parseLinkMessage } from '../../src/host/links.js';
import type { ProcessEntry } from '../../src/host/proc-table.js';
import { config, FakeHost } from '../helpers/fake-gate-host.js';
import type { SlotsView, SlotView } from '../../src/checks/slots.js';
import { inventoryJson, inventoryPieces } from '../../src/sinks/inventory-report.js';

/**
 * The whole slot space at a cost that does not grow while nothing happens (issue 24), without root: what is read
 * while nothing changes, and what a pass over /proc judges again. The figures are in bench/slot-space.ts.
 */

function countingHost(n: number) {
  const host = new FakeHost();
  for (let i = 0; i < n; i++) host.add(`ns-${i}`);
  const stats: string[] = [];
  const stat = host.statNamespace.bind(host);
  host.statNamespace = (name) => (stats.push(name), stat(name));
  return { host, stats };
}

describe('the names in /run/netns, kept by what changed', () => {
  it('while the directory does not change, a catch-up reads no name and stats nothing', async () => {
    const { host, stats } = countingHost(50);
    const index = new NetnsIndex(host);
    await index.load();
    for (let i = 0; i < 5; i++) expect(await index.catchUp()).toEqual(new Set());
    expect(host.dirReads).toBe(0);
    expect(stats).toEqual([]);
  });

  it('a name seen as the plain file `ip netns add` makes before its mount is stat-ed again at each catch-up until mounted', async () => {
    const { host, stats } = countingHost(20);
    const fresh = host.add('ns-fresh');
    fresh.nsfs = false;
    const index = new NetnsIndex(host);
    await index.load();
    expect(index.get('ns-fresh')?.nsfs).toBe(false);
    expect(await index.catchUp()).toEqual(new Set());
    expect(stats).toEqual(['ns-fresh']);
    // mounted: neither the directory nor inotify moves, the next catch-up sees it
    fresh.nsfs = true;
    fresh.inode += 1000;
    expect(await index.catchUp()).toEqual(new Set(['ns-fresh']));
    expect(index.get('ns-fresh')?.nsfs).toBe(true);
    stats.length = 0;
    expect(await index.catchUp()).toEqual(new Set());
    expect(stats).toEqual([]);
  });

  it('names that came or went without inotify saying so are found by one read of the names: only those are stat-ed', async () => {
    const { host, stats } = countingHost(50);
    const index = new NetnsIndex(host);
    await index.load();
    host.add('ns-new');
    host.remove('ns-3');
    expect(await index.catchUp()).toEqual(new Set(['ns-new', 'ns-3']));
    expect(stats.sort()).toEqual(['ns-3', 'ns-new']);
    expect(index.size).toBe(50);
    expect(index.get('ns-3')).toBeUndefined();
  });

  it('a name whose namespace changed in place (the directory did not move) is found by the slices within NAMES_VERIFY_MS', async () => {
    const { host, stats } = countingHost(120);
    const index = new NetnsIndex(host);
    await index.load();
    host.namespaces.get('ns-77')!.inode = 999_999;
    const everyMs = 10_000;
    const found = new Set<string>();
    for (let i = 0; i < NAMES_VERIFY_MS / everyMs; i++) for (const n of await index.verifySlice(everyMs)) found.add(n);
    expect(found).toEqual(new Set(['ns-77']));
    expect(index.get('ns-77')!.inode).toBe(999_999);
    // each name once per NAMES_VERIFY_MS, not every name at every recheck
    expect(stats.length).toBe(120);
    expect(new Set(stats).size).toBe(120);
  });

  it('while the directory keeps moving, its names are read whole at most once per NAMES_COMPARE_MIN_MS, and a comparison put off is made when due', async () => {
    const { host } = countingHost(50);
    let now = 10_000;
    const index = new NetnsIndex(
      host,
      () => true,
      () => now,
    );
    await index.load();
    host.add('ns-a');
    expect(await index.catchUp()).toEqual(new Set(['ns-a']));
    expect(host.dirReads).toBe(1);
    host.add('ns-b');
    now += 100;
    expect(await index.catchUp()).toEqual(new Set());
    expect(host.dirReads).toBe(1);
    expect(index.compareDueInMs).toBe(NAMES_COMPARE_MIN_MS - 100);
    now += NAMES_COMPARE_MIN_MS - 100;
    expect(await index.catchUp()).toEqual(new Set(['ns-b']));
    expect(host.dirReads).toBe(2);
    expect(index.compareDueInMs).toBeNull();
  });

  it('counts the slot names and lists the names that are not namespace mounts as names come and go, without walking them', async () => {
    const { host } = countingHost(10);
    host.add('other-1');
    host.add('ns-plain').nsfs = false;
    const index = new NetnsIndex(host, (n) => n.startsWith('ns-'));
    await index.load();
    expect(index.ownedCount).toBe(11);
    expect(index.notMounted()).toEqual(['ns-plain']);
    host.remove('ns-3');
    host.add('other-2');
    host.add('ns-x');
    host.namespaces.get('ns-plain')!.nsfs = true;
    index.update(['ns-3', 'other-2', 'ns-x', 'ns-plain']);
    expect(index.ownedCount).toBe(11);
    expect(index.size).toBe(13);
    expect(index.notMounted()).toEqual([]);
  });

  it('an unreadable directory is not "no names": the listing carries the error', async () => {
    const { host } = countingHost(3);
    const index = new NetnsIndex(host);
    await index.load();
    host.dirVersion += 1;
    host.readNetnsNames = () => Promise.resolve(Object.assign(new Error('EACCES'), { code: 'EACCES' }));
    await index.catchUp();
    expect(index.listing.error).toMatch(/EACCES/);
    expect(index.size).toBe(3);
  });
});

function proc(pid: number, comm: string, inode: number): ProcessEntry {
  return { pid, comm, netnsInodes: [inode], tunFds: [], netnsFds: [], openTunFds: [] };
}

describe('a pass over /proc judges again only what it says something new of', () => {
  async function harness(n: number, { minAgeMs = 0, now: start = 1_000_000 } = {}) {
    const host = new FakeHost();
    for (let i = 0; i < n; i++) host.add(`ns-${i}`, 'no-carrier', { createdAtMs: 0 });
    host.processes = { processes: [proc(100, 'orchestrator', 4026531840)] };
    const store = new LinkStore((x) => x.startsWith('ns-'), host, new NetnsIndex(host));
    await store.resync();
    await store.linksLoaded();
    let now = start;
    // maxAge 0: every look is a new pass
    const live = new LiveFacts(store, host, config({ minAgeMs }), 0, () => now);
    return { host, store, live, advance: (ms: number) => (now += ms) };
  }

  it('on a quiet host every judgement is kept, with its age brought up to date', async () => {
    const { live, advance } = await harness(300);
    const a = await live.get();
    advance(5000);
    const b = await live.get();
    expect(b.slots.length).toBe(300);
    expect(b.slots.every((s, i) => s === a.slots[i])).toBe(true);
    expect(b.slots[0]!.ageSeconds).toBe(1005);
  });

  it('a slot whose processes changed is judged again; the others are not', async () => {
    const { host, live } = await harness(300);
    const a = await live.get();
    const inode = host.namespaces.get('ns-42')!.inode;
    host.processes = { processes: [...host.processes.processes, proc(4242, 'firecracker', inode)] };
    const b = await live.get();
    const changed = b.slots.filter((s, i) => s !== a.slots[i]).map((s) => s.name);
    expect(changed).toEqual(['ns-42']);
    expect(b.slots.find((s) => s.name === 'ns-42')!.state).toBe('active');
  });

  it('what every slot shares (the orchestrator went away) judges every slot again', async () => {
    const { host, live } = await harness(50);
    const a = await live.get();
    expect(a.slots.every((s) => !s.leftover)).toBe(true);
    host.processes = { processes: [] };
    const b = await live.get();
    expect(b.slots.every((s) => s.leftover)).toBe(true);
  });

  it('the counts by state (/metrics) follow what changed without a walk: a VMM came, a young slot aged, a slot went', async () => {
    const { host, store, live, advance } = await harness(20, { minAgeMs: 30_000, now: 10_000 });
    const byView = async () => {
      const counts = { active: 0, starting: 0, idle: 0, unknown: 0 };
      for (const s of (await live.get()).slots) counts[s.state] += 1;
      return counts;
    };
    expect(await live.stateCounts()).toEqual({ active: 0, starting: 20, idle: 0, unknown: 0 });
    const inode = host.namespaces.get('ns-3')!.inode;
    host.processes = { processes: [...host.processes.processes, proc(4242, 'firecracker', inode)] };
    expect(await live.stateCounts()).toEqual({ active: 1, starting: 19, idle: 0, unknown: 0 });
    // age alone turns 'starting' into 'idle': counted at the next pass, with no walk of the slots
    advance(30_000);
    expect(await live.stateCounts()).toEqual({ active: 1, starting: 0, idle: 19, unknown: 0 });
    expect(await byView()).toEqual(await live.stateCounts());
    host.remove('ns-3');
    await store.refresh(['ns-3']);
    expect(await live.stateCounts()).toEqual({ active: 0, starting: 0, idle: 19, unknown: 0 });
    expect(await byView()).toEqual({ active: 0, starting: 0, idle: 19, unknown: 0 });
  });

  it('slots come in natural order (ns-2 before ns-10), sorted once', async () => {
    const { live } = await harness(12);
    expect((await live.get()).slots.map((s) => s.name)).toEqual(Array.from({ length: 12 }, (_, i) => `ns-${i}`));
  });
});

describe('the lean RTM_GETLINK reader', () => {
  it('asks for one namespace by nsid, without IFLA_EXT_MASK (the kernel would walk every host link to size it)', () => {
    const b = linkDumpRequest(7);
    expect(b.length).toBe(24);
    expect([b.readUInt16LE(16), b.readUInt16LE(18), b.readInt32LE(20)]).toEqual([8, 46, 7]);
  });

  it('reads name, ifindex, flags and operstate and skips every other attribute', () => {
    const attr = (type: number, payload: Buffer) => {
      const len = 4 + payload.length;
      const b = Buffer.alloc((len + 3) & ~3);
      b.writeUInt16LE(len, 0);
      b.writeUInt16LE(type, 2);
      payload.copy(b, 4);
      return b;
    };
    const head = Buffer.alloc(16);
    head.writeInt32LE(40015, 4);
    head.writeUInt32LE(0x1 | 0x2 | 0x1000, 8); // UP, BROADCAST, MULTICAST; not RUNNING
    const msg = Buffer.concat([
      head,
      attr(4, Buffer.from([0, 5, 0, 0])),
      attr(3, Buffer.from('tap0\0')),
      attr(16, Buffer.from([2])),
      attr(18, Buffer.alloc(12)),
    ]);
    expect(parseLinkMessage(msg)).toEqual({
      name: 'tap0',
      ifindex: 40015,
      flags: ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'],
      adminUp: true,
      carrier: false,
      operstate: 'DOWN',
    });
    expect(parseLinkMessage(Buffer.alloc(3))).toBeNull();
  });

  it('labels flags as ip does', () => {
    expect(flagBitsLabels(0x1 | 0x40 | 0x10000 | 0x2)).toEqual(['BROADCAST', 'UP', 'LOWER_UP']);
    expect(flagBitsLabels(0x8 | 0x1 | 0x40)).toEqual(['LOOPBACK', 'UP']);
  });
});

describe('GET /inventory streamed in pieces', () => {
  const whole = (v: SlotsView) => [...inventoryPieces(v)].join('');
  const slot = (i: number): SlotView => ({
    name: `ns-${i}`,
    state: 'idle',
    leftover: false,
    ageSeconds: i,
    createdAtMs: 0,
    nsid: i,
    inode: 100 + i,
    processes: [],
    fdHolders: [],
    taps: [],
  });
  const view = (n: number): SlotsView => ({
    takenAtMs: 0,
    blind: null,
    orchestratorRunning: true,
    orchestrators: [],
    slots: Array.from({ length: n }, (_, i) => slot(i)),
    orphans: [],
  });

  it('the pieces join into the whole inventory, with leak fields, for any number of slots', () => {
    for (const n of [0, 1, 2, 5, 7]) {
      const pieces = [...inventoryPieces(view(n), (name) => ({ suspectedLeak: name === 'ns-1', idleSeconds: 3 }), 2)];
      expect(pieces.length).toBe(Math.ceil(n / 2) + 1);
      const body = JSON.parse(pieces.join('')) as { orchestratorRunning: boolean; namespaces: { name: string; suspectedLeak: boolean }[] };
      expect(body.orchestratorRunning).toBe(true);
      expect(body.namespaces.map((x) => x.name)).toEqual(Array.from({ length: n }, (_, i) => `ns-${i}`));
      expect(body.namespaces.filter((x) => x.suspectedLeak).map((x) => x.name)).toEqual(n > 1 ? ['ns-1'] : []);
    }
    // a kept judgement's age is brought up to date in place: the kept text follows it
    const v = view(1);
    expect(JSON.parse(whole(v)).namespaces[0].ageSeconds).toBe(0);
    v.slots[0]!.ageSeconds = 7;
    expect(JSON.parse(whole(v)).namespaces[0].ageSeconds).toBe(7);
    // streamed or whole, the same inventory as `inventory --json` gives (without host state)
    expect(JSON.parse(whole(view(3)))).toEqual(inventoryJson(view(3)));
  });
});
