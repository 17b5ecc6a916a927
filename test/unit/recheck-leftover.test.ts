import { describe, expect, it } from 'vitest';
import { recheckLeftover, type RecheckFacts } from '../../src/checks/recheck-leftover.js';
import { readNetDevices, type ProcessEntry } from '../../src/host/proc-table.js';
import { config, link } from '../helpers/fake-gate-host.js';

/** Cleanup's last decision before deleting a leftover, on facts given by hand: no root, no kernel. */

const NOW = 1_000_000;
const base = (over: Partial<RecheckFacts> = {}): RecheckFacts => ({
  name: 'ns-1',
  held: { inode: 500, device: 4 },
  named: { name: 'ns-1', inode: 500, device: 4, createdAtMs: NOW - 3_600_000, nsfs: true },
  nowMs: NOW,
  links: [link('lo', 'carrier', 1), link('tap0', 'no-carrier')],
  processes: [],
  selfPid: 99,
  ...over,
});
const proc = (pid: number, over: Partial<ProcessEntry> = {}): ProcessEntry => ({
  pid,
  comm: `p${pid}`,
  netnsInodes: [4026531840],
  tunFds: [],
  netnsFds: [],
  openTunFds: [],
  ...over,
});
const cfg = config({ minAgeMs: 60_000 });

describe("cleanup's re-verification right before a delete", () => {
  it('an idle leftover, still the namespace it judged, is deleted', () => expect(recheckLeftover(base(), cfg)).toBeNull());

  it('a name already gone is left alone', () => expect(recheckLeftover(base({ named: null }), cfg)).toBe('already gone'));

  it('a name that is no longer a namespace mount is left alone', () =>
    expect(recheckLeftover(base({ named: { ...base().named!, nsfs: false } }), cfg)).toBe('no longer a namespace mount'));

  it('a name deleted and re-created meanwhile (another inode, or the same inode on another device) is left alone', () => {
    expect(recheckLeftover(base({ named: { ...base().named!, inode: 501 } }), cfg)).toBe('name now points at another namespace');
    expect(recheckLeftover(base({ named: { ...base().named!, device: 5 } }), cfg)).toBe('name now points at another namespace');
  });

  it('a name outside --netns-pattern is left alone', () => expect(recheckLeftover(base({ name: 'other-1' }), cfg)).toBe('no longer matches --netns-pattern'));

  it('a namespace younger than --min-age is left alone', () =>
    expect(recheckLeftover(base({ named: { ...base().named!, createdAtMs: NOW - 1000 } }), cfg)).toBe('younger than --min-age'));

  it('a process that entered it, or holds it by an fd, keeps it', () => {
    expect(recheckLeftover(base({ processes: [proc(42, { comm: 'firecracker', netnsInodes: [500] })] }), cfg)).toBe('in use by pid 42 (firecracker) inside it');
    expect(recheckLeftover(base({ processes: [proc(43, { comm: 'holder', netnsFds: [500] })] }), cfg)).toBe('held open by pid 43 (holder)');
  });

  it("vmgate's own fd on it does not count", () => expect(recheckLeftover(base({ processes: [proc(99, { netnsFds: [500] })] }), cfg)).toBeNull());

  it('links that could not be read again keep it', () => {
    expect(recheckLeftover(base({ links: new Error('Multipart message not terminated') }), cfg)).toBe(
      'its links could not be read: Multipart message not terminated',
    );
    expect(recheckLeftover(base({ links: undefined }), cfg)).toBe('its links could not be read: not read again');
  });

  it('an unreadable process that may be inside keeps it (same interfaces, or interfaces unknown)', () => {
    const same = proc(7, { comm: 'secret', unreadable: 'EACCES', netDevices: ['lo', 'tap0'] });
    expect(recheckLeftover(base({ processes: [same] }), cfg)).toBe('pid 7 (secret) could not be read (EACCES) and may be inside it');
    expect(recheckLeftover(base({ processes: [{ ...same, netDevices: null }] }), cfg)).toContain('may be inside it');
    expect(recheckLeftover(base({ processes: [{ ...same, netDevices: ['eth0', 'lo'] }] }), cfg)).toBeNull();
    // too many interfaces to read whole (the host's namespace, a veth per slot): not inside a slot of two
    expect(recheckLeftover(base({ processes: [{ ...same, netDevices: 'many' }] }), cfg)).toBeNull();
  });

  it('/proc/PID/net/dev is read whole when short, and only as far as a slot could need when long', () => {
    const mine = readNetDevices('/proc/self');
    expect(mine === 'many' || (Array.isArray(mine) && mine.includes('lo'))).toBe(true);
    expect(readNetDevices('/proc/no-such-pid')).toBeNull();
  });

  it('a tap with carrier keeps it, whoever holds it', () =>
    expect(recheckLeftover(base({ links: [link('lo', 'carrier', 1), link('tap0', 'carrier')] }), cfg)).toBe('tap0 has carrier: a process has it attached'));

  it('a tap of this slot held from outside it (placed exactly), even admin-down, keeps it', () => {
    const outside = proc(8, { comm: 'wrapper', tunFds: [{ fd: 5, iff: 'tap0', devNetns: 500 }] });
    expect(recheckLeftover(base({ links: [link('lo', 'carrier', 1), link('tap0', 'down')], processes: [outside] }), cfg)).toBe(
      'tap0 attached by pid 8 (wrapper)',
    );
  });

  it("another slot's tap held by a process inside this one does not keep it; an unplaced tun fd outside does", () => {
    const inside = proc(9, { comm: 'vmm', netnsInodes: [500], tunFds: [{ fd: 5, iff: 'tap0', devNetns: 777 }] });
    expect(recheckLeftover(base({ processes: [inside] }), cfg)).toBe('in use by pid 9 (vmm) inside it');
    const elsewhere = proc(10, { comm: 'vmm', tunFds: [{ fd: 5, iff: 'tap0', devNetns: 777 }] });
    expect(recheckLeftover(base({ processes: [elsewhere] }), cfg)).toBeNull();
    const unplaced = proc(11, { comm: 'vmm', tunFds: [{ fd: 5, iff: 'tap0', devNetns: null }] });
    expect(recheckLeftover(base({ processes: [unplaced], placeError: 'python3 fd probe failed: ENOENT' }), cfg)).toBe(
      "pid 11 (vmm) holds a tun fd on a 'tap0' vmgate could not place (python3 fd probe failed: ENOENT), and it may be this one",
    );
  });

  it('a socket living in it held from anywhere keeps it; sockets that could not be read keep it too', () => {
    const holder = proc(12, { comm: 'listener', socketFds: [{ fd: 3, inode: 6570, netns: 500 }] });
    expect(recheckLeftover(base({ processes: [holder] }), cfg)).toBe('a socket in it is held by pid 12 (listener)');
    const elsewhere = proc(12, { comm: 'listener', socketFds: [{ fd: 3, inode: 6570, netns: 4026531840 }] });
    expect(recheckLeftover(base({ processes: [elsewhere] }), cfg)).toBeNull();
    expect(recheckLeftover(base({ processes: [{ ...holder, pid: 99 }] }), cfg)).toBeNull();
    expect(recheckLeftover(base({ placeError: 'python3 fd probe failed: ENOENT' }), cfg)).toBe(
      'the sockets living in it could not be read (python3 fd probe failed: ENOENT)',
    );
  });

  it('a name that is now a symbolic link is left alone', () =>
    expect(recheckLeftover(base({ named: { ...base().named!, nsfs: false, symlink: true } }), cfg)).toBe('now a symbolic link'));
});
