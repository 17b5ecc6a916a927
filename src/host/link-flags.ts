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
