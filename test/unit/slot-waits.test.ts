import { SlotLinks } from '../../src/gate/slot-links.js';
import { describe, expect, it } from 'vitest';
import { NetnsIndex } from '../../src/gate/netns-index.js';
import { LinkStore } from '../../src/gate/link-store.js';
import { SlotWaits, type HostGateView } from '../../src/gate/slot-waits.js';
import type { LinkFacts } from '../../src/host/types.js';
import { FakeHost } from '../helpers/fake-gate-host.js';

/** A store holding one slot with a tap, filled by hand: no kernel, no root. */
function storeWith(carrier: boolean): LinkStore {
  const fake = new FakeHost();
  const store = new LinkStore(() => true, fake, new NetnsIndex(fake));
  const tap: LinkFacts = {
    name: 'tap0',
    ifindex: 5,
    flags: carrier ? ['UP', 'LOWER_UP'] : ['NO-CARRIER', 'UP'],
    adminUp: true,
    carrier,
    operstate: carrier ? 'UP' : 'DOWN',
  };
  store.byName.set('ns-1', { name: 'ns-1', inode: 1, createdAtMs: 0, nsid: 1, links: new SlotLinks([tap]) });
  return store;
}

function hostView(): HostGateView & { set(s: 'ready' | 'starting' | 'not-ready'): void } {
  let state: 'ready' | 'starting' | 'not-ready' = 'starting';
  let mark = () => {};
  const evaluated = new Promise<void>((r) => (mark = r));
  return {
    state: () => state,
    failing: () => 'tun-device: /dev/net/tun does not exist',
    evaluated: () => evaluated,
    set(s) {
      state = s;
      if (s !== 'starting') mark();
    },
  };
}

describe('a slot wait while the gate starts', () => {
  it('waits for the first evaluation and answers on the real verdict, not host-not-ready', async () => {
    const host = hostView();
    const waits = new SlotWaits(storeWith(true), { maxWaiters: 10, gate: host, host: new FakeHost() });
    const p = waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 1000 });
    setTimeout(() => host.set('ready'), 20);
    expect((await p)!.reason).toBe('carrier-up');
  });

  it('answers starting (never host-not-ready) when its deadline passes first', async () => {
    const waits = new SlotWaits(storeWith(true), { maxWaiters: 10, gate: hostView(), host: new FakeHost() });
    const a = (await waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 30 }))!;
    expect(a.reason).toBe('starting');
    expect(a.error).toContain('retry');
  });

  it('host-not-ready always names the failing checks', async () => {
    const host = hostView();
    host.set('not-ready');
    const waits = new SlotWaits(storeWith(true), { maxWaiters: 10, gate: host, host: new FakeHost() });
    const a = (await waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 0 }))!;
    expect(a.reason).toBe('host-not-ready');
    expect(a.error).toContain('tun-device: /dev/net/tun does not exist');
  });

  it('a wait in flight whose time runs out on a host that turned not-ready names the host, not the VMM', async () => {
    const host = hostView();
    host.set('ready');
    const waits = new SlotWaits(storeWith(false), { maxWaiters: 10, gate: host, host: new FakeHost() });
    const p = waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 40 });
    host.set('not-ready');
    const a = (await p)!;
    expect(a.reason).toBe('host-not-ready');
    expect(a.error).toContain('tun-device');
    expect(waits.count).toBe(0);
  });

  it('shutdown releases waits still waiting for the first evaluation', async () => {
    const waits = new SlotWaits(storeWith(true), { maxWaiters: 10, gate: hostView(), host: new FakeHost() });
    const p = waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 60_000 });
    setTimeout(() => waits.shutdown(), 10);
    expect((await p)!.reason).toBe('shutting-down');
  });

  it('the time spent waiting for the first evaluation counts against timeout_ms', async () => {
    const host = hostView();
    const waits = new SlotWaits(storeWith(false), { maxWaiters: 10, gate: host, host: new FakeHost() });
    const p = waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 100 });
    setTimeout(() => host.set('ready'), 60);
    const a = (await p)!;
    expect(a.reason).toBe('timeout');
    expect(a.waitedMs).toBeGreaterThanOrEqual(95);
  });
});

describe('timeout_ms is honoured from the moment the request arrives', () => {
  it('a fresh slot whose read never finishes (namespaces churning) still gets its answer by its deadline', async () => {
    const fresh = new FakeHost();
    fresh.add('ns-9');
    const store = storeWith(false);
    store.refresh = () => new Promise<void>(() => undefined); // never settles
    const host = hostView();
    host.set('ready');
    const waits = new SlotWaits(store, { maxWaiters: 10, gate: host, host: fresh });
    const a = (await waits.wait({ netns: 'ns-9', iface: 'tap0', timeoutMs: 80 }))!;
    // it exists: never "not found" (issue 25 item 8); its deadline is kept
    expect(a.reason).toBe('timeout');
    expect(a.error).toContain('exists but vmgate has not read it yet');
    expect(a.waitedMs).toBeLessThan(1000);
    expect(waits.count).toBe(0);
  });

  it('a client gone before its waiter exists leaves no waiter behind', async () => {
    const host = hostView();
    host.set('ready');
    const waits = new SlotWaits(storeWith(false), { maxWaiters: 10, gate: host, host: new FakeHost() });
    const abort = new AbortController();
    abort.abort();
    expect(await waits.wait({ netns: 'ns-1', iface: 'tap0', timeoutMs: 5000 }, abort.signal)).toBeNull();
    expect(waits.count).toBe(0);
  });
});
