import { execa } from 'execa';
import { randomInt } from 'node:crypto';

/**
 * Real E2B datapath-v1 slots as the orchestrator's network code makes them (docs/slots.md), named for one test
 * file: namespace `vgtest-<id>-ns-N`, host veth `vgt<id>-N` with 10.A.x.y/31, route to the host IP 10.B.x.y, a tap
 * in the namespace, and the 9 host rules with gateway `vgt<id>gw`. Every rule, veth and route is removed in afterAll.
 */
export class E2bSlots {
  readonly vethPrefix: string;
  readonly gateway: string;
  private readonly vethNet = randomInt(100, 150);
  private readonly hostNet = randomInt(150, 200);

  /** `id` names everything (a test sandbox's id, or 'bench'); `orchestratorComm` is passed to vmgate. */
  constructor(
    private readonly id: string,
    private readonly orchestratorComm: string,
  ) {
    this.vethPrefix = `vgt${id}-`;
    this.gateway = `vgt${id}gw`;
  }

  get pattern(): string {
    return `^vgtest-${this.id}-ns-(\\d+)$`;
  }

  /** Scope and layout flags for vmgate. */
  flags(...extra: string[]): string[] {
    return [
      '--netns-pattern',
      this.pattern,
      '--orchestrator-comm',
      this.orchestratorComm,
      '--host-veth',
      `${this.vethPrefix}{N}`,
      '--veth-cidr',
      `10.${this.vethNet}.0.0/16`,
      '--host-cidr',
      `10.${this.hostNet}.0.0/16`,
      '--gateway-iface',
      this.gateway,
      ...extra,
    ];
  }

  ns(n: number): string {
    return `vgtest-${this.id}-ns-${n}`;
  }

  veth(n: number): string {
    return `${this.vethPrefix}${n}`;
  }

  hostIp(n: number): string {
    return `10.${this.hostNet}.${n >> 8}.${n & 255}`;
  }

  private vethIp(n: number, peer = 0): string {
    const v = 2 * n + peer;
    return `10.${this.vethNet}.${v >> 8}.${v & 255}`;
  }

  /** The 9 rules of slot n, as iptables-save prints them, by table. */
  rules(n: number): { table: 'filter' | 'nat'; line: string }[] {
    const v = this.veth(n);
    const gw = this.gateway;
    return [
      { table: 'filter', line: `-A FORWARD -i ${v} -o ${gw} -j ACCEPT` },
      { table: 'filter', line: `-A FORWARD -i ${gw} -o ${v} -j ACCEPT` },
      ...[
        [80, 5010],
        [111, 5012],
        [2049, 5011],
      ].map(([d, p]) => ({ table: 'nat' as const, line: `-A PREROUTING -d 192.0.2.1/32 -i ${v} -p tcp -m tcp --dport ${d} -j REDIRECT --to-ports ${p}` })),
      { table: 'nat', line: `-A PREROUTING -i ${v} -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 5016` },
      { table: 'nat', line: `-A PREROUTING -i ${v} -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 5017` },
      { table: 'nat', line: `-A PREROUTING -i ${v} -p tcp -j REDIRECT --to-ports 5018` },
      { table: 'nat', line: `-A POSTROUTING -s ${this.hostIp(n)}/32 -o ${gw} -j MASQUERADE` },
    ];
  }

  /** Whole slots: namespace, tap0, veth pair with addresses, the host-IP route, and (unless told) the 9 rules. */
  async create(indexes: number[], opts: { rules?: boolean; backend?: 'nft' | 'legacy' } = {}): Promise<void> {
    const lines: string[] = [];
    for (const n of indexes) {
      const ns = this.ns(n);
      const tmp = `vgx${this.id}${n}`.slice(0, 15);
      lines.push(
        `netns add ${ns}`,
        `tuntap add dev ${tmp} mode tap`,
        `link set ${tmp} netns ${ns} name tap0`,
        `link add ${this.veth(n)} type veth peer name eth0 netns ${ns}`,
        `addr add ${this.vethIp(n)}/31 dev ${this.veth(n)}`,
        `link set ${this.veth(n)} up`,
        `route add ${this.hostIp(n)} via ${this.vethIp(n, 1)} dev ${this.veth(n)} onlink`,
      );
    }
    await execa('ip', ['-batch', '-'], { input: lines.join('\n') + '\n', timeout: 600_000 });
    if (opts.rules !== false) await this.addRules(indexes, opts.backend);
  }

  /** The 9 rules of each slot (again: a second call duplicates them, as the orchestrator does on reuse). */
  async addRules(indexes: number[], backend: 'nft' | 'legacy' = 'nft', only?: number): Promise<void> {
    const rules = indexes.flatMap((n) => this.rules(n).slice(0, only));
    await restore(
      backend,
      rules.map((r) => ({ table: r.table, line: r.line })),
    );
  }

  /** Every rule of this file on the host, as iptables-save lines (counters and comments left out). */
  async ours(backend: 'nft' | 'legacy' = 'nft'): Promise<string[]> {
    const { stdout } = await execa(`iptables-${backend}-save`);
    return stdout
      .split('\n')
      .filter((l) => l.startsWith('-A ') && (l.includes(this.vethPrefix) || l.includes(` 10.${this.hostNet}.`) || l.includes(this.gateway)));
  }

  /** The whole ruleset, without comments and chain counters: what must not change but for the lines deleted. */
  static async ruleset(backend: 'nft' | 'legacy' = 'nft'): Promise<string[]> {
    const { stdout } = await execa(`iptables-${backend}-save`);
    return stdout.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith('*'));
  }

  async removeRules(): Promise<void> {
    for (const backend of ['nft', 'legacy'] as const) {
      for (let i = 0; i < 5; i++) {
        const lines = await this.ours(backend).catch(() => [] as string[]);
        if (lines.length === 0) break;
        const { stdout } = await execa(`iptables-${backend}-save`);
        let table = '';
        const del: { table: string; line: string }[] = [];
        for (const l of stdout.split('\n')) {
          if (l.startsWith('*')) table = l.slice(1);
          else if (lines.includes(l)) del.push({ table, line: `-D${l.slice(2)}` });
        }
        await restore(backend, del).catch(() => undefined);
      }
    }
  }
}

/** One iptables-restore --noflush: -A lines add, lines given as -D delete. */
export async function restore(backend: 'nft' | 'legacy', rules: { table: string; line: string }[]): Promise<void> {
  const byTable = new Map<string, string[]>();
  for (const r of rules) (byTable.get(r.table) ?? byTable.set(r.table, []).get(r.table)!).push(r.line);
  const input = [...byTable].map(([t, l]) => `*${t}\n${l.join('\n')}\nCOMMIT\n`).join('');
  if (input) await execa(`iptables-${backend}-restore`, ['--noflush', '--wait', '10'], { input, timeout: 120_000 });
}
