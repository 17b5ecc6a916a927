import type { ExtraCheckId } from '../config/extra-checks.js';
import type { HostConfig } from '../config/host-config.js';
import type { PrerequisiteFacts } from '../host/prerequisites.js';
import type { CheckResult } from './types.js';

/** neighbour entries one slot adds to the kernel's (global) IPv4 table: guest, veth peer in the slot, veth on the host */
export const NEIGH_PER_SLOT = 3;
/** what the host itself needs besides the slots (its own LAN, gateways) */
export const NEIGH_HEADROOM = 512;

/** How many slots the host is sized for: --max-namespaces when given, else the slots there are now. */
export function slotCapacity(config: HostConfig, ownedNow: number): { slots: number; source: string } {
  return config.maxNamespaces !== null ? { slots: config.maxNamespaces, source: '--max-namespaces' } : { slots: ownedNow, source: 'slot namespaces now' };
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));

/** The extra checks asked for, in the order given by EXTRA_CHECK_IDS. */
export function judgePrerequisites(ids: readonly ExtraCheckId[], f: PrerequisiteFacts, config: HostConfig, ownedNow: number): CheckResult[] {
  const cap = slotCapacity(config, ownedNow);
  return ids.map((id) => {
    switch (id) {
      case 'kvm-device':
        return checkKvm(f.kvm);
      case 'ip-forward':
        return checkIpForward(f.ipForward);
      case 'neigh-gc-thresh':
        return checkNeigh(f.gcThresh3, cap);
      case 'nbd-module':
        return checkNbd(f.nbd, cap);
      case 'cgroup-v2':
        return checkCgroup(f.cgroup);
    }
  });
}

export function checkKvm(k: PrerequisiteFacts['kvm']): CheckResult {
  const id = 'kvm-device';
  if (!k) return { id, status: 'unknown', message: '/dev/kvm was not looked at', details: {} };
  const details = { path: '/dev/kvm', ...k };
  if (!k.exists)
    return {
      id,
      status: 'fail',
      message:
        "/dev/kvm does not exist: Firecracker cannot start a VM here; load kvm ('modprobe kvm_intel' or 'modprobe kvm_amd') and check that virtualization (nested, on a VM) is enabled",
      details,
    };
  if (!k.isCharDevice || k.major !== 10 || k.minor !== 232)
    return {
      id,
      status: 'fail',
      message: `/dev/kvm is not the KVM device (char 10:232, found ${k.isCharDevice ? `char ${k.major}:${k.minor}` : 'not a char device'}): recreate it ('mknod /dev/kvm c 10 232')`,
      details,
    };
  if (k.openError)
    return {
      id,
      status: 'fail',
      message: `/dev/kvm cannot be opened read-write (${k.openError}): give the orchestrator's user access (group kvm, or 'chmod 0660 /dev/kvm')`,
      details,
    };
  return { id, status: 'pass', message: '/dev/kvm is char 10:232 and opens read-write', details };
}

export function checkIpForward(v: number | null | undefined): CheckResult {
  const id = 'ip-forward';
  const details = { sysctl: 'net.ipv4.ip_forward', value: v ?? null };
  if (v === null || v === undefined) return { id, status: 'unknown', message: 'net.ipv4.ip_forward could not be read', details };
  if (v !== 1)
    return {
      id,
      status: 'fail',
      message: `net.ipv4.ip_forward is ${v}: sandboxes cannot reach anything beyond the host; 'sysctl -w net.ipv4.ip_forward=1' (and persist it in /etc/sysctl.d)`,
      details,
    };
  return { id, status: 'pass', message: 'net.ipv4.ip_forward is 1', details };
}

export function checkNeigh(v: number | null | undefined, cap: { slots: number; source: string }): CheckResult {
  const id = 'neigh-gc-thresh';
  const need = cap.slots * NEIGH_PER_SLOT + NEIGH_HEADROOM;
  const set = nextPow2(need);
  const details = { sysctl: 'net.ipv4.neigh.default.gc_thresh3', value: v ?? null, slots: cap.slots, slotsFrom: cap.source, needed: need };
  if (v === null || v === undefined) return { id, status: 'unknown', message: 'net.ipv4.neigh.default.gc_thresh3 could not be read', details };
  if (v < need)
    return {
      id,
      status: 'warn',
      message: `net.ipv4.neigh.default.gc_thresh3 is ${v}, below ${need} for ${cap.slots} slots (${cap.source}; ${NEIGH_PER_SLOT} entries each + ${NEIGH_HEADROOM}): past it the kernel drops neighbour entries ('neighbour table overflow') and sandboxes lose their network; 'sysctl -w net.ipv4.neigh.default.gc_thresh3=${set} net.ipv4.neigh.default.gc_thresh2=${set / 2}'`,
      details,
    };
  return { id, status: 'pass', message: `net.ipv4.neigh.default.gc_thresh3 is ${v}, enough for ${cap.slots} slots (${need})`, details };
}

export function checkNbd(n: PrerequisiteFacts['nbd'], cap: { slots: number; source: string }): CheckResult {
  const id = 'nbd-module';
  const need = Math.max(cap.slots, 1);
  const details = { loaded: n?.loaded ?? false, nbdsMax: n?.nbdsMax ?? null, devices: n?.devices ?? 0, needed: need, slotsFrom: cap.source };
  if (!n?.loaded)
    return {
      id,
      status: 'fail',
      message: `the nbd module is not loaded: an orchestrator that serves rootfs over NBD cannot start sandboxes; 'modprobe nbd nbds_max=${Math.max(need, 4096)}'`,
      details,
    };
  if (n.nbdsMax === null || n.nbdsMax < need)
    return {
      id,
      status: 'fail',
      message: `nbd is loaded with nbds_max=${n.nbdsMax ?? 'unknown'}, fewer than ${need} devices for ${cap.slots} slots (${cap.source}): reload it ('modprobe -r nbd && modprobe nbd nbds_max=${Math.max(need, 4096)}') while no sandbox runs`,
      details,
    };
  return { id, status: 'pass', message: `nbd is loaded with nbds_max=${n.nbdsMax} (${n.devices} devices), enough for ${cap.slots} slots`, details };
}

export function checkCgroup(c: PrerequisiteFacts['cgroup']): CheckResult {
  const id = 'cgroup-v2';
  const details = { path: '/sys/fs/cgroup', type: c?.type ?? null };
  if (!c?.unified)
    return {
      id,
      status: 'fail',
      message: `/sys/fs/cgroup is ${c?.type ?? 'not looked at'}, not the unified cgroup v2 hierarchy: boot with systemd.unified_cgroup_hierarchy=1 (or mount -t cgroup2 none /sys/fs/cgroup)`,
      details,
    };
  return { id, status: 'pass', message: '/sys/fs/cgroup is the unified cgroup v2 hierarchy', details };
}
