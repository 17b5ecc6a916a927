import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { failingIds, type HostVerdict } from '../gate/host-verdict.js';
import { OrchestratorError, type OrchestratorClient, type OrchestratorStatus } from '../orchestrator/client.js';
import type { Logger } from './log.js';

export interface StatusSyncOptions {
  /** how long the host verdict must hold before the orchestrator's status follows it */
  holdMs: number;
  /** where vmgate remembers that it set Unhealthy (across its own restarts) */
  stateFile: string;
  /** how often the orchestrator's status is read for the metric, and the verdict looked at again */
  tickMs?: number;
  now?: () => number;
}

/** What vmgate remembers: it set Unhealthy, when and why. Only then may it set Healthy back. */
interface SyncState {
  setUnhealthy: boolean;
  at: string;
  reason: string;
}

/**
 * Keeps the stock orchestrator's own status in step with the host verdict, so that E2B's API (which places sandboxes
 * only on Healthy nodes) stops sending sandboxes to a host vmgate judges not ready. Only Healthy ↔ Unhealthy, and
 * only what vmgate itself set: Draining and Standby belong to operators and the autoscaler and are never changed;
 * ServiceInfo is read before every change. An orchestrator down or refusing never reaches the gate: retried with
 * backoff, logged once per kind of failure, counted in /metrics.
 */
export class OrchestratorStatusSync {
  private ready: boolean | null = null;
  private failing: string[] = [];
  private since = 0;
  private state: SyncState | null;
  private busy = false;
  private timer: NodeJS.Timeout | null = null;
  private retryAt = 0;
  private backoffMs = 1000;
  private lastProblem: string | null = null;
  /** the orchestrator's status as last read (null: not read, or it could not be) */
  status: OrchestratorStatus | null = null;
  readonly changes = new Map<string, number>();
  readonly errors = new Map<string, number>();

  constructor(
    private readonly client: Pick<OrchestratorClient, 'serviceInfo' | 'setStatus' | 'address'>,
    private readonly log: Logger,
    private readonly opts: StatusSyncOptions,
  ) {
    this.state = readState(opts.stateFile);
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** The gate's verdict changed (readiness, or which checks fail): the hold starts again only when readiness flips. */
  onVerdict(v: HostVerdict): void {
    if (v.reason === 'starting') return;
    if (v.ready !== this.ready) {
      this.ready = v.ready;
      this.since = this.now();
    }
    this.failing = failingIds(v);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One look: read the orchestrator's status, and change it if the verdict has held long enough. Never throws. */
  async tick(): Promise<void> {
    if (this.busy || this.now() < this.retryAt) return;
    this.busy = true;
    try {
      const info = await this.client.serviceInfo();
      this.status = info.status;
      this.ok();
      const held = this.ready !== null && this.now() - this.since >= this.opts.holdMs;
      if (!held) return;
      if (this.ready === false && !this.state?.setUnhealthy) {
        // only a Healthy orchestrator is taken out: Draining and Standby are someone else's, Unhealthy already is
        if (info.status !== 'Healthy') return;
        const reason = this.failing.join(',') || 'host not ready';
        await this.client.setStatus('Unhealthy');
        this.changed('Unhealthy', { setUnhealthy: true, at: new Date(this.now()).toISOString(), reason });
        this.log.warn(
          { orchestrator: this.client.address, status: 'Unhealthy', failing: this.failing },
          `set the orchestrator Unhealthy: the host verdict has been not ready for ${Math.round(this.opts.holdMs / 1000)}s (${reason}); E2B places no new sandbox here until it is Healthy again`,
        );
      } else if (this.ready === true && this.state?.setUnhealthy) {
        if (info.status !== 'Unhealthy') {
          // an operator (or the autoscaler) changed it since: theirs now, vmgate lets go
          this.changed(null, null);
          this.log.info(
            { orchestrator: this.client.address, status: info.status },
            `the orchestrator is ${info.status}, not the Unhealthy vmgate set: left as it is`,
          );
          return;
        }
        await this.client.setStatus('Healthy');
        this.changed('Healthy', null);
        this.log.info(
          { orchestrator: this.client.address, status: 'Healthy' },
          `set the orchestrator Healthy again: the host verdict has been ready for ${Math.round(this.opts.holdMs / 1000)}s`,
        );
      }
    } catch (err) {
      this.problem(err);
    } finally {
      this.busy = false;
    }
  }

  private changed(status: 'Healthy' | 'Unhealthy' | null, state: SyncState | null): void {
    if (status) {
      this.status = status;
      this.changes.set(status, (this.changes.get(status) ?? 0) + 1);
    }
    this.state = state;
    writeState(this.opts.stateFile, state, this.log);
  }

  private ok(): void {
    if (this.lastProblem !== null) this.log.info({ orchestrator: this.client.address }, 'orchestrator status: reachable again');
    this.lastProblem = null;
    this.backoffMs = 1000;
  }

  private problem(err: unknown): void {
    const code = err instanceof OrchestratorError ? err.code : 'ERROR';
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    this.status = null;
    this.retryAt = this.now() + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    if (code === this.lastProblem) return;
    this.lastProblem = code;
    this.log.warn({ orchestrator: this.client.address, code }, `orchestrator status not read or not set (vmgate goes on, retrying): ${(err as Error).message}`);
  }
}

function readState(path: string): SyncState | null {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as SyncState;
    return s.setUnhealthy === true ? s : null;
  } catch {
    return null;
  }
}

/** Written whole or not at all (a temporary file renamed over it). */
function writeState(path: string, state: SyncState | null, log: Logger): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, JSON.stringify(state ?? { setUnhealthy: false }));
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    log.warn(
      { stateFile: path },
      `could not write ${path} (vmgate forgets across a restart that it set the orchestrator Unhealthy): ${(err as Error).message}`,
    );
  }
}
