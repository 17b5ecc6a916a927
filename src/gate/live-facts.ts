import { classifySlots, type SlotsView } from '../checks/slots.js';
import type { HostConfig } from '../config/host-config.js';
import { joinProcesses, orchestratorsIn, visibilityOf } from '../host/snapshot.js';
import type { ProcessTable } from '../host/proc-table.js';
import type { HostFacts } from '../host/types.js';
import type { GateHost } from './gate-host.js';
import type { LinkStore } from './link-store.js';

/** a pass over /proc is reused this long (the link state is always current); scrapes in between cost no pass */
const TABLE_MAX_AGE_MS = 5000;

/**
 * Host facts for /inventory and /metrics: the live link state (no netlink dump, no process per namespace) plus a
 * pass over /proc that yields between slices. One pass at a time, shared by every caller meanwhile, reused for 5 s
 * (a VMM is seen as a tap holder at once through the link state; which processes are inside may lag by that much).
 * Facts and the slot view are derived again only when the link state or the pass changed.
 */
export class LiveFacts {
  private table: { at: number; table: ProcessTable } | null = null;
  private reading: Promise<ProcessTable> | null = null;
  private cached: { table: ProcessTable; version: number; facts: HostFacts; view?: SlotsView } | null = null;

  constructor(
    private readonly store: LinkStore,
    private readonly host: Pick<GateHost, 'processTable' | 'tun'>,
    private readonly config: HostConfig,
  ) {}

  async get(): Promise<HostFacts> {
    return (await this.fresh()).facts;
  }

  /** The slots judged from the facts (classifySlots), computed once per pass. */
  async slots(): Promise<SlotsView> {
    const c = await this.fresh();
    c.view ??= classifySlots(c.facts, this.config);
    return c.view;
  }

  private async fresh(): Promise<{ table: ProcessTable; version: number; facts: HostFacts; view?: SlotsView }> {
    const table = await this.processes();
    const c = this.cached;
    if (c && c.table === table && c.version === this.store.version) return c;
    this.cached = { table, version: this.store.version, facts: this.join(table) };
    return this.cached;
  }

  private processes(): Promise<ProcessTable> {
    if (this.table && performance.now() - this.table.at < TABLE_MAX_AGE_MS) return Promise.resolve(this.table.table);
    this.reading ??= this.host
      .processTable()
      .then((table) => {
        this.table = { at: performance.now(), table };
        return table;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }

  /** The followed slots as they are now, with the processes of the last pass: one pass over each, by index. */
  private join(table: ProcessTable): HostFacts {
    const tracked = [...this.store.byName.values()];
    const namespaces = joinProcesses(
      tracked.map((ns) => ({ name: ns.name, inode: ns.inode, nsid: ns.nsid, createdAtMs: ns.createdAtMs, owned: true, nsfs: true })),
      table.processes,
    );
    namespaces.forEach((f, i) => {
      const ns = tracked[i]!;
      f.links = ns.links ? [...ns.links.values()] : null;
      if (ns.linkError !== undefined) f.linkError = ns.linkError;
    });
    return {
      takenAtMs: Date.now(),
      tun: this.host.tun(),
      maxNamespaces: this.config.maxNamespaces,
      maxNamespacesSource: this.config.maxNamespaces !== null ? 'flag' : 'unknown',
      namespaces,
      orchestrators: orchestratorsIn(table, this.config.orchestratorComm),
      visibility: visibilityOf(table),
    };
  }
}
