import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/cli/commands/serve.js';
import { STARTING, verdictKey } from '../../src/gate/host-verdict.js';
import { parseWaitQuery, WAIT_STATUS } from '../../src/gate/wait-answer.js';
import { parseMonitorLine } from '../../src/host/monitor-line.js';
import { verboseVerdict } from '../../src/sinks/http/ready-for-vm.js';

const lines = readFileSync(new URL('../fixtures/ip/monitor-all-nsid-6.1.txt', import.meta.url), 'utf8')
  .trim()
  .split('\n');

describe('ip -o monitor all-nsid link nsid', () => {
  it('reads carrier on, carrier off, admin down from real lines', () => {
    const evs = lines.slice(0, 6).map(parseMonitorLine);
    expect(evs[0]).toEqual({
      kind: 'link',
      nsid: 0,
      deleted: false,
      ifindex: 2,
      name: 'tap0',
      flags: ['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP'],
      operstate: 'DOWN',
    });
    expect(evs[1]).toMatchObject({ name: 'tap0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], operstate: 'UP' });
    expect(evs[4]).toMatchObject({ name: 'tap0', flags: ['BROADCAST', 'MULTICAST'] });
  });
  it('reads nsid assignment and removal, with the namespace name', () => {
    const nsids = lines.map(parseMonitorLine).filter((e) => e?.kind === 'nsid');
    expect(nsids[0]).toEqual({ kind: 'nsid', nsid: 2, deleted: false, netns: 'vgtest-b' });
    expect(nsids).toContainEqual({ kind: 'nsid', nsid: 0, deleted: true, netns: 'vgtest-m2' });
  });
  it('reads deleted links, strips @peer from veth names, marks host links nsid null', () => {
    const evs = lines.map(parseMonitorLine);
    expect(evs).toContainEqual(expect.objectContaining({ kind: 'link', nsid: 0, deleted: true, name: 'tap0' }));
    expect(evs).toContainEqual(expect.objectContaining({ kind: 'link', nsid: 0, name: 'eth0' }));
    expect(evs).toContainEqual(expect.objectContaining({ kind: 'link', nsid: null, name: 'vgtest-m2v', deleted: true }));
  });
  it('ignores what it does not know', () => {
    expect(parseMonitorLine('')).toBeNull();
    expect(parseMonitorLine('[nsid 0]    link/ether 00:11')).toBeNull();
  });
});

describe('slot query validation', () => {
  const q = (s: string) => parseWaitQuery(new URLSearchParams(s));
  it('defaults iface tap0 and timeout 10 s', () => expect(q('netns=ns-3')).toEqual({ netns: 'ns-3', iface: 'tap0', timeoutMs: 10_000 }));
  it('takes every parameter', () => expect(q('netns=ns-3&iface=tap1&timeout_ms=0&pid=42')).toEqual({ netns: 'ns-3', iface: 'tap1', timeoutMs: 0, pid: 42 }));
  it.each([
    ['', "'netns' is required"],
    ['netns=', "'netns' is required"],
    ['netns=../etc', "'netns' must be"],
    ['netns=a%20b', "'netns' must be"],
    [`netns=${'a'.repeat(65)}`, "'netns' must be"],
    ['netns=ns-1&iface=a-very-long-name0', "'iface' must be"],
    ['netns=ns-1&timeout_ms=-1', "'timeout_ms' must be"],
    ['netns=ns-1&timeout_ms=120001', "'timeout_ms' must be"],
    ['netns=ns-1&timeout_ms=1e3', "'timeout_ms' must be"],
    ['netns=ns-1&pid=0', "'pid' must be"],
    ['netns=ns-1&pid=abc', "'pid' must be"],
    ['netns=ns-1&netns=ns-2', 'more than once'],
    ['netns=ns-1&wait=1', "unknown parameter 'wait'"],
  ])('%j is rejected', (query, msg) => expect((q(query) as { error: string }).error).toContain(msg));
  it('maps every reason to its status', () => {
    expect(WAIT_STATUS).toMatchObject({
      'carrier-up': 200,
      'bad-request': 400,
      'netns-not-found': 404,
      'iface-not-found': 404,
      'iface-admin-down': 409,
      'vmm-exited': 503,
      timeout: 504,
    });
  });
});

describe('host verdict', () => {
  it('never reads ready while starting, in the /readyz style', () => {
    expect(verboseVerdict(STARTING)).toBe('[-]starting failed: the first evaluation has not finished\nnot ready\n');
    const v = {
      ready: false,
      checks: [
        { id: 'tun-device', status: 'pass' as const, message: 'ok', details: {} },
        { id: 'netns-capacity', status: 'fail' as const, message: 'full', details: {} },
      ],
      checkedAt: '',
    };
    expect(verboseVerdict(v)).toBe('[+]tun-device ok\n[-]netns-capacity failed: full\nnot ready\n');
    expect(verdictKey(v)).toBe('false||netns-capacity:fail');
  });
  it('parses --listen', () => {
    expect(parseListen('127.0.0.1:8431')).toEqual({ host: '127.0.0.1', port: 8431 });
    expect(parseListen('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseListen(':9')).toEqual({ host: '127.0.0.1', port: 9 });
    expect(() => parseListen('8431')).toThrow(/HOST:PORT/);
    expect(() => parseListen('h:70000')).toThrow(/HOST:PORT/);
  });
});
