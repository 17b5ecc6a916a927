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

export function operstateName(n: number | undefined): string {
  return n === undefined ? 'UNKNOWN' : (OPERSTATES[n] ?? String(n));
}

/** The one builder of link facts, from ip's flag labels: a netlink dump, `ip -j link show` and a monitor line alike. */
export function linkFacts(name: string, ifindex: number, flags: string[], operstate: string): LinkFacts {
  return { name, ifindex, flags, adminUp: flags.includes('UP'), carrier: flags.includes('LOWER_UP'), operstate };
}
