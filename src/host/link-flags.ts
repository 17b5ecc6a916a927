import type { LinkFacts } from './types.js';

/** ip(8) prints device flags in this order; NO-CARRIER is its name for UP without RUNNING. */
const ORDER: [key: string, label: string][] = [
  ['loopback', 'LOOPBACK'],
  ['broadcast', 'BROADCAST'],
  ['pointopoint', 'POINTOPOINT'],
  ['multicast', 'MULTICAST'],
  ['noarp', 'NOARP'],
  ['allmulti', 'ALLMULTI'],
  ['promisc', 'PROMISC'],
  ['master', 'MASTER'],
  ['slave', 'SLAVE'],
  ['debug', 'DEBUG'],
  ['dynamic', 'DYNAMIC'],
  ['automedia', 'AUTOMEDIA'],
  ['portsel', 'PORTSEL'],
  ['notrailers', 'NOTRAILERS'],
  ['up', 'UP'],
  ['lowerUp', 'LOWER_UP'],
  ['dormant', 'DORMANT'],
  ['echo', 'ECHO'],
];

const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];

export function flagLabels(flags: Record<string, unknown>): string[] {
  const out = ORDER.filter(([k]) => flags[k]).map(([, label]) => label);
  if (flags.up && !flags.running) out.unshift('NO-CARRIER');
  return out;
}

/** net_device_flags bits (linux/if.h), by the names flagLabels reads */
const BITS: [key: string, bit: number][] = [
  ['up', 0x1],
  ['broadcast', 0x2],
  ['debug', 0x4],
  ['loopback', 0x8],
  ['pointopoint', 0x10],
  ['notrailers', 0x20],
  ['running', 0x40],
  ['noarp', 0x80],
  ['promisc', 0x100],
  ['allmulti', 0x200],
  ['master', 0x400],
  ['slave', 0x800],
  ['multicast', 0x1000],
  ['portsel', 0x2000],
  ['automedia', 0x4000],
  ['dynamic', 0x8000],
  ['lowerUp', 0x10000],
  ['dormant', 0x20000],
  ['echo', 0x40000],
];

const LABELS_BY_BITS = new Map<number, string[]>();

/** ip's labels from ifi_flags as the kernel sends them (shared and frozen: never change them). */
export function flagBitsLabels(bits: number): string[] {
  // one frozen array per set of bits (a handful on a host): 30,000 slot links share them instead of each its own
  let labels = LABELS_BY_BITS.get(bits);
  if (labels) return labels;
  const flags: Record<string, boolean> = {};
  for (const [k, bit] of BITS) if (bits & bit) flags[k] = true;
  labels = Object.freeze(flagLabels(flags)) as string[];
  if (LABELS_BY_BITS.size < 256) LABELS_BY_BITS.set(bits, labels);
  return labels;
}

export function operstateName(n: number | undefined): string {
  return n === undefined ? 'UNKNOWN' : (OPERSTATES[n] ?? String(n));
}

const NAMES = new Map<string, string>();

/**
 * One string per link name (lo, tap0, eth0 in every slot): each decode makes a new one, 30,000 copies of three names
 * at 10,000 slots (0.7 MB). Names past the first 1,024 different ones are kept as they come.
 */
function sharedName(name: string): string {
  const known = NAMES.get(name);
  if (known !== undefined) return known;
  if (NAMES.size < 1024) NAMES.set(name, name);
  return name;
}

/** The one builder of link facts, from ip's flag labels: a netlink dump, `ip -j link show` and a monitor line alike. */
export function linkFacts(name: string, ifindex: number, flags: string[], operstate: string): LinkFacts {
  return { name: sharedName(name), ifindex, flags, adminUp: flags.includes('UP'), carrier: flags.includes('LOWER_UP'), operstate };
}
