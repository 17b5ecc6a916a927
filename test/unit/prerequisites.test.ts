import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkCgroup, checkIpForward, checkKvm, checkNbd, checkNeigh, judgePrerequisites, slotCapacity } from '../../src/checks/prerequisites.js';
import { parseExtraChecks } from '../../src/config/extra-checks.js';
import { UsageError } from '../../src/config/usage-error.js';
import { readPrerequisites } from '../../src/host/prerequisites.js';
import { config } from '../helpers/fake-gate-host.js';

/** Host prerequisites judged on facts given by hand, and read from a sysfs/procfs-shaped tree. */

const KVM = { exists: true, isCharDevice: true, major: 10, minor: 232, openError: null };

describe('--extra-checks', () => {
  it('takes ids in any order, returns them in the checks order; all is every one', () => {
    expect(parseExtraChecks('cgroup-v2, kvm-device')).toEqual(['kvm-device', 'cgroup-v2']);
    expect(parseExtraChecks('all')).toHaveLength(5);
    expect(parseExtraChecks('')).toEqual([]);
  });
  it('an unknown id is a usage error naming the known ones', () => {
    expect(() => parseExtraChecks('kvm')).toThrow(UsageError);
    expect(() => parseExtraChecks('kvm')).toThrow(/known: kvm-device, ip-forward/);
  });
});

describe('kvm-device', () => {
  it('passes for char 10:232 that opens', () => expect(checkKvm(KVM).status).toBe('pass'));
  it('fails when missing, saying how to get it', () => {
    const r = checkKvm({ ...KVM, exists: false, isCharDevice: false, major: null, minor: null });
    expect([r.status, r.message]).toEqual(['fail', expect.stringContaining('/dev/kvm does not exist')]);
    expect(r.message).toContain('modprobe kvm_intel');
  });
  it('fails for another device or one that does not open', () => {
    expect(checkKvm({ ...KVM, minor: 3 }).message).toContain('not the KVM device (char 10:232, found char 10:3)');
    expect(checkKvm({ ...KVM, openError: 'EACCES' }).message).toContain('cannot be opened read-write (EACCES)');
  });
});

describe('ip-forward', () => {
  it('1 passes; 0 fails with the sysctl to run; unreadable is unknown', () => {
    expect(checkIpForward(1).status).toBe('pass');
    expect(checkIpForward(0).message).toContain("'sysctl -w net.ipv4.ip_forward=1'");
    expect(checkIpForward(null).status).toBe('unknown');
  });
});

describe('neigh-gc-thresh', () => {
  it('warns (never fails) below 3 entries per slot + 512, with the value to set', () => {
    const r = checkNeigh(1024, { slots: 1000, source: '--max-namespaces' });
    expect(r.status).toBe('warn');
    expect(r.message).toContain('below 3512 for 1000 slots');
    expect(r.message).toContain('gc_thresh3=4096 net.ipv4.neigh.default.gc_thresh2=2048');
  });
  it('passes when large enough', () => expect(checkNeigh(4096, { slots: 1000, source: '--max-namespaces' }).status).toBe('pass'));
  it('sizes for --max-namespaces when given, else for the slots there are', () => {
    expect(slotCapacity(config({ maxNamespaces: 800 }), 5)).toEqual({ slots: 800, source: '--max-namespaces' });
    expect(slotCapacity(config({ maxNamespaces: null }), 5)).toEqual({ slots: 5, source: 'slot namespaces now' });
  });
});

describe('nbd-module', () => {
  it('fails when not loaded, and when nbds_max is below the slots; passes otherwise', () => {
    const cap = { slots: 1000, source: '--max-namespaces' };
    expect(checkNbd({ loaded: false, nbdsMax: null, devices: 0 }, cap).message).toContain("'modprobe nbd nbds_max=4096'");
    expect(checkNbd({ loaded: true, nbdsMax: 16, devices: 16 }, cap).message).toContain('nbds_max=16, fewer than 1000 devices');
    expect(checkNbd({ loaded: true, nbdsMax: 4096, devices: 4096 }, cap).status).toBe('pass');
  });
});

describe('cgroup-v2', () => {
  it('passes on the unified hierarchy, fails on v1/hybrid naming what is there', () => {
    expect(checkCgroup({ unified: true, type: 'cgroup2' }).status).toBe('pass');
    expect(checkCgroup({ unified: false, type: 'tmpfs' }).message).toContain('/sys/fs/cgroup is tmpfs');
  });
});

describe('read from a tree shaped like /proc and /sys', () => {
  it('reads the sysctls and the nbd module; a missing /dev/kvm is reported as missing', () => {
    const root = mkdtempSync(`${tmpdir()}/vgprereq-`);
    mkdirSync(`${root}/proc/sys/net/ipv4/neigh/default`, { recursive: true });
    writeFileSync(`${root}/proc/sys/net/ipv4/ip_forward`, '1\n');
    writeFileSync(`${root}/proc/sys/net/ipv4/neigh/default/gc_thresh3`, '1024\n');
    mkdirSync(`${root}/sys/module/nbd/parameters`, { recursive: true });
    writeFileSync(`${root}/sys/module/nbd/parameters/nbds_max`, '64\n');
    for (let i = 0; i < 3; i++) mkdirSync(`${root}/sys/block/nbd${i}`, { recursive: true });
    mkdirSync(`${root}/sys/block/sda`);
    const f = readPrerequisites(['kvm-device', 'ip-forward', 'neigh-gc-thresh', 'nbd-module'], root);
    expect(f).toEqual({
      kvm: { exists: false, isCharDevice: false, major: null, minor: null, openError: null },
      ipForward: 1,
      gcThresh3: 1024,
      nbd: { loaded: true, nbdsMax: 64, devices: 3 },
    });
    const r = judgePrerequisites(['kvm-device', 'ip-forward', 'neigh-gc-thresh', 'nbd-module'], f, config({ maxNamespaces: 100 }), 0);
    expect(r.map((x) => [x.id, x.status])).toEqual([
      ['kvm-device', 'fail'],
      ['ip-forward', 'pass'],
      ['neigh-gc-thresh', 'pass'],
      ['nbd-module', 'fail'],
    ]);
  });
});
