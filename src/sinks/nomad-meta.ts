import { NomadClient, NomadError, type NomadClientOptions } from '../nomad/client.js';
import { resolveNomadTarget } from '../nomad/target.js';
import type { Logger } from './log.js';

/** Which keys a writer owns: the gate and the preflight check never write each other's. */
export interface MetaKeys {
  verdict: string;
  reason: string;
}

/** `serve --nomad-meta`: vmgate_ready "true"/"false", vmgate_reason = failing host-gate checks. */
export const GATE_KEYS: MetaKeys = { verdict: 'vmgate_ready', reason: 'vmgate_reason' };
/** `check --nomad-meta`: vmgate_preflight "pass"/"fail", vmgate_preflight_reason = failing checks. */
export const PREFLIGHT_KEYS: MetaKeys = { verdict: 'vmgate_preflight', reason: 'vmgate_preflight_reason' };
/** Written by earlier versions on every run (each write made Nomad evaluate every system job): removed on sight. */
const RETIRED_KEYS = ['vmgate_checked_at'];

/**
 * Publishes a verdict as Nomad dynamic node metadata, only when it differs from what the node has: every change of
 * Node.Meta makes the servers evaluate every system job on the node, so an unchanged verdict is never written.
 * Nomad being down, slow or refusing is logged once per kind of failure and never reaches the caller.
 */
export class NodeMetaPublisher {
  /** what this process last wrote or read back, key -> value; null until the node's metadata was read once */
  private known: Record<string, string | null> | null = null;
  private lastProblem: string | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** how many POSTs reached Nomad (tests and logs) */
  writes = 0;
  private lastWriteAt = -Infinity;
  private pendingWant: Record<string, string | null> | null = null;
  private lastWanted: Record<string, string | null> | null = null;
  private debounceTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly client: NomadClient,
    private readonly log: Logger,
    private readonly keys: MetaKeys,
  ) {}

  /** see NomadClient.warm */
  warm(): Promise<void> {
    return this.client.warm();
  }

  static fromEnv(log: Logger, keys: MetaKeys, opts?: NomadClientOptions, env: NodeJS.ProcessEnv = process.env): NodeMetaPublisher | null {
    try {
      const client = new NomadClient(resolveNomadTarget(env), opts);
      log.debug({ nomad: client.target.via }, `nomad node metadata via ${client.target.via} ${client.target.socketPath ?? client.target.origin}`);
      return new NodeMetaPublisher(client, log, keys);
    } catch (err) {
      log.warn({ nomad: 'config' }, `nomad node metadata disabled: ${(err as Error).message}`);
      return null;
    }
  }

  /** Queue a publish of the verdict word and the failing ids; written only if the node has other values. */
  publish(verdict: string, failing: string[]): Promise<void> {
    const want: Record<string, string | null> = { [this.keys.verdict]: verdict, [this.keys.reason]: failing.join(',') };
    this.chain = this.chain.then(() => this.write(want));
    return this.chain;
  }

  /**
   * serve: the latest verdict, written at most once per `minIntervalMs` (the latest value wins): a count hovering at
   * a threshold must not write on every flip (each write is a system-job evaluation in Nomad).
   */
  publishLatest(verdict: string, failing: string[], minIntervalMs = 10_000): void {
    const want: Record<string, string | null> = { [this.keys.verdict]: verdict, [this.keys.reason]: failing.join(',') };
    this.lastWanted = want;
    this.pendingWant = want;
    if (this.debounceTimer) return;
    this.debounceTimer = setTimeout(
      () => {
        this.debounceTimer = null;
        const w = this.pendingWant;
        this.pendingWant = null;
        if (w) this.chain = this.chain.then(() => this.write(w));
      },
      Math.max(0, this.lastWriteAt + minIntervalMs - Date.now()),
    );
    this.debounceTimer.unref();
  }

  /**
   * Every `everyMs`, read the node's metadata again and write what differs from the last verdict: a Nomad that lost
   * its metadata (restarted empty) gets it back within that time. One GET a period while nothing differs.
   */
  startRefresh(everyMs = 60_000): void {
    this.refreshTimer = setInterval(() => {
      const want = this.lastWanted;
      if (!want || this.pendingWant) return;
      this.chain = this.chain.then(() => {
        this.known = null;
        return this.write(want);
      });
    }, everyMs);
    this.refreshTimer.unref();
  }

  /** On clean shutdown: remove only this writer's keys, so a stopped gate does not leave a stale "true" behind. */
  unset(): Promise<void> {
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.debounceTimer = this.refreshTimer = null;
    this.pendingWant = this.lastWanted = null;
    this.chain = this.chain.then(() => this.write({ [this.keys.verdict]: null, [this.keys.reason]: null }));
    return this.chain;
  }

  close(): Promise<void> {
    return this.chain.then(() => this.client.close());
  }

  private async write(want: Record<string, string | null>): Promise<void> {
    if (this.known === null) {
      try {
        const current = await this.client.getNodeMeta();
        this.known = { ...(current.Dynamic ?? {}) };
      } catch (err) {
        this.problem(err); // could not read: write anyway, it is what we would do if it differed
      }
    }
    const retire = Object.fromEntries(RETIRED_KEYS.filter((k) => this.known?.[k] != null).map((k) => [k, null]));
    const changed = Object.entries(want).filter(([k, v]) => (this.known?.[k] ?? null) !== v);
    if (changed.length === 0 && Object.keys(retire).length === 0) return;
    const meta = { ...Object.fromEntries(changed), ...retire };
    try {
      await this.client.setNodeMeta(meta);
      this.writes += 1;
      this.lastWriteAt = Date.now();
      this.known = { ...(this.known ?? {}), ...meta };
      if (this.lastProblem !== null) this.log.info({ nomad: 'ok' }, 'nomad node metadata: publishing works again');
      this.lastProblem = null;
    } catch (err) {
      this.known = null; // unknown again: read before the next write
      this.problem(err);
    }
  }

  private problem(err: unknown): void {
    const status = err instanceof NomadError ? err.status : 0;
    const kind = err instanceof NomadError ? (status ? `HTTP ${status}` : err.body.split(':')[0]!) : String(err);
    if (kind === this.lastProblem) return;
    this.log.warn({ nomad: 'error', status }, `nomad node metadata not published (vmgate goes on): ${(err as Error).message}`);
    this.lastProblem = kind;
  }
}
