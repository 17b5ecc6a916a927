import { NomadClient, type NomadClientOptions } from '../nomad/client.js';
import { resolveNomadTarget } from '../nomad/target.js';
import type { Logger } from './log.js';

export interface PublishedVerdict {
  ready: boolean;
  /** failing check ids */
  failing: string[];
  checkedAt: string;
}

export const META_KEYS = ['vmgate_ready', 'vmgate_reason', 'vmgate_checked_at'] as const;

/**
 * Publishes the host verdict as Nomad node metadata, only when it changes. Nomad being down, slow or refusing is
 * logged once per kind of failure and never reaches the caller: calls queue, the newest verdict wins.
 */
export class NodeMetaPublisher {
  private lastKey: string | null = null;
  private lastProblem: string | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: NomadClient,
    private readonly log: Logger,
  ) {}

  static fromEnv(log: Logger, opts?: NomadClientOptions, env: NodeJS.ProcessEnv = process.env): NodeMetaPublisher | null {
    try {
      const client = new NomadClient(resolveNomadTarget(env), opts);
      log.debug({ nomad: client.target.via }, `nomad node metadata via ${client.target.via} ${client.target.socketPath ?? client.target.origin}`);
      return new NodeMetaPublisher(client, log);
    } catch (err) {
      log.warn({ nomad: 'config' }, `nomad node metadata disabled: ${(err as Error).message}`);
      return null;
    }
  }

  /** Queue a publish if ready or the failing set changed since the last one that reached Nomad. */
  publish(v: PublishedVerdict): Promise<void> {
    const key = `${v.ready}|${v.failing.join(',')}`;
    this.chain = this.chain.then(async () => {
      if (key === this.lastKey) return;
      const ok = await this.send({ vmgate_ready: String(v.ready), vmgate_reason: v.failing.join(','), vmgate_checked_at: v.checkedAt });
      if (ok) this.lastKey = key;
    });
    return this.chain;
  }

  /** On clean shutdown: remove the keys, so a stopped gate does not leave a stale "true" behind. */
  unset(): Promise<void> {
    this.chain = this.chain.then(async () => {
      await this.send(Object.fromEntries(META_KEYS.map((k) => [k, null])));
      this.lastKey = null;
    });
    return this.chain;
  }

  close(): Promise<void> {
    return this.chain.then(() => this.client.close());
  }

  private async send(meta: Record<string, string | null>): Promise<boolean> {
    try {
      await this.client.setNodeMeta(meta);
      if (this.lastProblem !== null) this.log.info({ nomad: 'ok' }, 'nomad node metadata: publishing works again');
      this.lastProblem = null;
      return true;
    } catch (err) {
      const e = err as Error & { status?: number };
      const kind = e.status ? `HTTP ${e.status}` : e.message.replace(/^nomad \S+ \S+: /, '').split(':')[0]!;
      if (kind !== this.lastProblem) {
        this.log.warn({ nomad: 'error', status: e.status ?? 0 }, `nomad node metadata not published (the gate goes on): ${e.message}`);
        this.lastProblem = kind;
      }
      return false;
    }
  }
}
