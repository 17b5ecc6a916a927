import type { HostConfig } from '../config/host-config.js';
import { joinProcesses, orchestratorsIn, visibilityOf } from '../host/snapshot.js';
import type { ProcessTable } from '../host/proc-table.js';
import type { HostFacts } from '../host/types.js';
import type { GateHost } from './gate-host.js';
import type { LinkStore } from './link-store.js';

/** a scrape every 100 ms reuses one pass; older facts are read again */
const MAX_AGE_MS = 1000;

/**
 * Host facts for /inventory and /metrics: the live link state (no netlink dump, no process per namespace) plus a
 * pass over /proc that yields between chunks. One pass at a time, shared by every caller meanwhile, and reused for
 * a second: scrapes never stall a wait, and many scrapers cost one pass.
 */
export class LiveFacts {
  private table: { at: number; table: ProcessTable } | null = null;
  private reading: Promise<ProcessTable> | null = null;

  constructor(
    private readonly store: LinkStore,
    private readonly host: Pick<GateHost, 'processTable' | 'tun'>,
    private readonly config: HostConfig,
  ) {}

  async get(): Promise<HostFacts> {
    return this.join(await this.processes());
  }

  private processes(): Promise<ProcessTable> {
    if (this.table && performance.now() - this.table.at < MAX_AGE_MS) return Promise.resolve(this.table.table);
    this.reading ??= this.host
      .processTable()
      .then((table) => {
        this.table = { at: performance.now(), table };
        return table;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }

  private join(table: ProcessTable): HostFacts {
    const namespaces = [...this.store.byName.values()].map((ns) => {
      const f = joinProcesses({ name: ns.name, inode: ns.inode, nsid: ns.nsid, createdAtMs: ns.createdAtMs, owned: true, nsfs: true }, table.processes);
      f.links = ns.links ? [...ns.links.values()] : null;
      if (ns.linkError !== undefined) f.linkError = ns.linkError;
      return f;
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
