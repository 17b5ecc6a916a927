import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDuration, formatDuration } from '../../src/config/duration.js';
import { parseIpLinkJson as parseLinks } from '../../src/host/links.js';
import { flagLabels, operstateName } from '../../src/host/link-flags.js';
import { parseNetnsList as parseList } from '../../src/host/named-namespaces.js';
import { ParseError } from '../../src/host/parse-error.js';
import { parseIff, commMatches } from '../../src/host/proc-table.js';
import { devMajor, devMinor, readTunDevice, readTunDeviceAsync } from '../../src/host/tun-device.js';

/** the parsers return facts or a ParseError: these fixtures are real output, so an error fails the test */
function ok<T>(r: T | ParseError): T {
  if (r instanceof ParseError) throw r;
  return r;
}
const parseIpLinkJson = (s: string) => ok(parseLinks(s));
const parseNetnsList = (s: string) => ok(parseList(s));

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['0s', 0],
    ['1.5s', 1500],
    ['250', 250],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'soon', '5 minutes', '-1s', '1d'])('rejects %j', (text) => expect(parseDuration(text)).toBeNull());
  it('formats ages for tables', () => {
    expect([999, 59_000, 600_000, 7_200_000, 3 * 86_400_000].map(formatDuration)).toEqual(['999ms', '59s', '10m', '2h', '3d']);
  });
});

describe('ip netns list', () => {
  it('reads nsids from iproute2 6.1 JSON, a namespace without id gives null', () => {
    expect([...parseNetnsList(fixture('ip/netns-list-6.1.json'))]).toEqual([
      ['vgtest-fy', null],
      ['vgtest-fx', 0],
    ]);
  });
  it('reads the text form too', () => {
    expect([...parseNetnsList(fixture('ip/netns-list-6.1.txt'))]).toEqual([
      ['vgtest-fy', null],
      ['vgtest-fx', 0],
    ]);
  });
  it('empty output is no namespaces', () => expect(parseNetnsList('').size).toBe(0));
});

describe('ip -j link show', () => {
  it('a tap with a process attached has carrier', () => {
    const tap = parseIpLinkJson(fixture('ip/link-carrier-6.1.json')).find((l) => l.name === 'tap0');
    expect(tap).toEqual({ name: 'tap0', ifindex: 2, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], adminUp: true, carrier: true, operstate: 'UP' });
  });
  it('a persistent tap nobody holds is NO-CARRIER', () => {
    const tap = parseIpLinkJson(fixture('ip/link-no-carrier-6.1.json')).find((l) => l.name === 'tap0')!;
    expect(tap.flags[0]).toBe('NO-CARRIER');
    expect([tap.adminUp, tap.carrier, tap.operstate]).toEqual([true, false, 'DOWN']);
  });
  it('an admin-down tap', () => {
    const tap = parseIpLinkJson(fixture('ip/link-admin-down-6.1.json')).find((l) => l.name === 'tap0')!;
    expect([tap.adminUp, tap.carrier]).toEqual([false, false]);
  });
  it('ignores fields a newer iproute2 adds', () => {
    const newer = JSON.stringify([
      { ifindex: 7, ifname: 'tap0', flags: ['UP', 'LOWER_UP'], operstate: 'UP', altnames: ['x'], parentbus: 'y', gro_ipv4_max_size: 65536 },
    ]);
    expect(parseIpLinkJson(newer)[0]).toMatchObject({ name: 'tap0', carrier: true });
  });
});

describe('netlink flags', () => {
  it('labels like ip does, with NO-CARRIER for up but not running', () => {
    expect(flagLabels({ up: true, broadcast: true, multicast: true })).toEqual(['NO-CARRIER', 'BROADCAST', 'MULTICAST', 'UP']);
    expect(flagLabels({ up: true, running: true, broadcast: true, multicast: true, lowerUp: true })).toEqual(['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP']);
    expect(operstateName(6)).toBe('UP');
    expect(operstateName(2)).toBe('DOWN');
    expect(operstateName(undefined)).toBe('UNKNOWN');
  });
});

describe('/proc', () => {
  it('reads the attached interface from a tun fd', () => {
    expect(parseIff(fixture('fdinfo-tun-attached.txt'))).toBe('tap0');
    expect(parseIff('pos:\t0\nflags:\t02\n')).toBeNull();
  });
  it('compares comm as the kernel cuts it (15 bytes)', () => {
    expect(commMatches('orchestrator-lo', 'orchestrator-long-name')).toBe(true);
    expect(commMatches('orchestrator', 'orchestrator')).toBe(true);
    expect(commMatches('orchestrato', 'orchestrator')).toBe(false);
  });
  it('decodes device numbers', () => {
    const rdev = (10 << 8) | 200;
    expect([devMajor(rdev), devMinor(rdev)]).toEqual([10, 200]);
    expect([devMajor(0x103), devMinor(0x103)]).toEqual([1, 3]);
  });
  it('reads a device the same through the thread pool as synchronously (serve reads it at every evaluation)', async () => {
    // /dev/null: a character device anyone may open read-write; a missing path; a directory (opening it read-write fails)
    for (const path of ['/dev/null', '/nonexistent/tun', '/tmp']) expect(await readTunDeviceAsync(path)).toEqual(readTunDevice(path));
    expect((await readTunDeviceAsync('/nonexistent/tun')).statError).toBe('ENOENT');
    expect((await readTunDeviceAsync('/tmp')).openError).toBe('EISDIR');
  });
});
