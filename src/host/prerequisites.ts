import { existsSync, readdirSync, statfsSync } from 'node:fs';
import type { ExtraCheckId } from '../config/extra-checks.js';
import { readSysctlNumber } from './kernel-limits.js';
import { readTunDevice } from './tun-device.js';

/** What the host prerequisite checks look at; only the asked ones are read. Paths under `root` (tests). */
export interface PrerequisiteFacts {
  kvm?: { exists: boolean; isCharDevice: boolean; major: number | null; minor: number | null; openError: string | null };
  /** net.ipv4.ip_forward; null when unreadable */
  ipForward?: number | null;
  /** net.ipv4.neigh.default.gc_thresh3; null when unreadable */
  gcThresh3?: number | null;
  nbd?: { loaded: boolean; nbdsMax: number | null; devices: number };
  /** the filesystem type at /sys/fs/cgroup: cgroup2 (unified), tmpfs (v1 or hybrid), or the error */
  cgroup?: { unified: boolean; type: string };
}

const CGROUP2_SUPER_MAGIC = 0x63677270;
const TMPFS_MAGIC = 0x01021994;

export function readPrerequisites(ids: readonly ExtraCheckId[], root = ''): PrerequisiteFacts {
  const out: PrerequisiteFacts = {};
  for (const id of ids) {
    switch (id) {
      case 'kvm-device':
        {
          // the same facts as the tun device's: stat, char major:minor, an O_RDWR open
          const { exists, isCharDevice, major, minor, openError } = readTunDevice(`${root}/dev/kvm`);
          out.kvm = { exists, isCharDevice, major, minor, openError };
        }
        break;
      case 'ip-forward':
        out.ipForward = readSysctlNumber(`${root}/proc/sys/net/ipv4/ip_forward`);
        break;
      case 'neigh-gc-thresh':
        out.gcThresh3 = readSysctlNumber(`${root}/proc/sys/net/ipv4/neigh/default/gc_thresh3`);
        break;
      case 'nbd-module': {
        const loaded = existsSync(`${root}/sys/module/nbd`);
        let devices = 0;
        try {
          devices = readdirSync(`${root}/sys/block`).filter((n) => /^nbd\d+$/.test(n)).length;
        } catch {
          /* no sysfs: no devices seen */
        }
        out.nbd = { loaded, nbdsMax: loaded ? readSysctlNumber(`${root}/sys/module/nbd/parameters/nbds_max`) : null, devices };
        break;
      }
      case 'cgroup-v2':
        out.cgroup = readCgroup(`${root}/sys/fs/cgroup`);
        break;
    }
  }
  return out;
}

function readCgroup(path: string): NonNullable<PrerequisiteFacts['cgroup']> {
  try {
    const type = statfsSync(path).type;
    return {
      unified: type === CGROUP2_SUPER_MAGIC,
      type: type === CGROUP2_SUPER_MAGIC ? 'cgroup2' : type === TMPFS_MAGIC ? 'tmpfs' : `0x${type.toString(16)}`,
    };
  } catch (err) {
    return { unified: false, type: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
}
