import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The orchestrator's own status values (info.proto ServiceInfoStatus). */
export const ORCHESTRATOR_STATUSES = ['Healthy', 'Draining', 'Unhealthy', 'Standby'] as const;
export type OrchestratorStatus = (typeof ORCHESTRATOR_STATUSES)[number];

export interface ServiceInfo {
  nodeId: string;
  status: OrchestratorStatus;
  /** when the orchestrator's status last changed (ms since the epoch), if it says */
  changedAtMs: number | null;
  sandboxesRunning: number | null;
}

/** A gRPC error: the status code name (UNAVAILABLE, FAILED_PRECONDITION, DEADLINE_EXCEEDED...) and its details. */
export class OrchestratorError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'OrchestratorError';
  }
}

/** proto/ at the package root: three levels up from dist/src/orchestrator, two from src/orchestrator (tests) */
const PROTO =
  [new URL('../../../proto/info.proto', import.meta.url), new URL('../../proto/info.proto', import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((p) => existsSync(p)) ?? fileURLToPath(new URL('../../../proto/info.proto', import.meta.url));

type Unary = (req: object, opts: { deadline: number }, cb: (err: { code: number; details?: string } | null, res?: unknown) => void) => void;

/**
 * The orchestrator's InfoService over plain-text gRPC (what it serves on GRPC_PORT, 5008 by default): read its
 * status, override it. @grpc/grpc-js with the shipped proto/info.proto, loaded on first use only (serve without
 * --orchestrator-status never loads gRPC).
 */
export class OrchestratorClient {
  private client: { ServiceInfo: Unary; ServiceStatusOverride: Unary; close(): void } | null = null;
  private codes: Record<number, string> = {};

  constructor(
    readonly address: string,
    private readonly timeoutMs = 2000,
  ) {}

  private async connect() {
    if (this.client) return this.client;
    const [grpc, loader] = await Promise.all([import('@grpc/grpc-js'), import('@grpc/proto-loader')]);
    const def = await loader.load(PROTO, { keepCase: false, enums: String, longs: Number, defaults: true, includeDirs: [] });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { InfoService: new (addr: string, creds: unknown) => OrchestratorClient['client'] };
    this.codes = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));
    this.client = new pkg.InfoService(this.address, grpc.credentials.createInsecure());
    return this.client!;
  }

  private async call(method: 'ServiceInfo' | 'ServiceStatusOverride', req: object): Promise<unknown> {
    const c = await this.connect();
    return new Promise((resolve, reject) => {
      c[method].call(c, req, { deadline: Date.now() + this.timeoutMs }, (err, res) => {
        if (err)
          reject(
            new OrchestratorError(this.codes[err.code] ?? String(err.code), `${method}: ${this.codes[err.code] ?? err.code}: ${err.details ?? ''}`.trim()),
          );
        else resolve(res);
      });
    });
  }

  async serviceInfo(): Promise<ServiceInfo> {
    const r = (await this.call('ServiceInfo', {})) as {
      nodeId?: string;
      serviceStatus?: string;
      serviceStatusChangedAt?: { seconds?: number; nanos?: number } | null;
      metricSandboxesRunning?: number;
    };
    const status = (ORCHESTRATOR_STATUSES as readonly string[]).includes(r.serviceStatus ?? '') ? (r.serviceStatus as OrchestratorStatus) : null;
    if (!status) throw new OrchestratorError('UNKNOWN_STATUS', `ServiceInfo: a status vmgate does not know: ${String(r.serviceStatus)}`);
    const at = r.serviceStatusChangedAt;
    return {
      nodeId: r.nodeId ?? '',
      status,
      changedAtMs: at?.seconds !== undefined ? at.seconds * 1000 + Math.floor((at.nanos ?? 0) / 1e6) : null,
      sandboxesRunning: r.metricSandboxesRunning ?? null,
    };
  }

  async setStatus(status: 'Healthy' | 'Unhealthy'): Promise<void> {
    await this.call('ServiceStatusOverride', { serviceStatus: status });
  }

  close(): void {
    this.client?.close();
    this.client = null;
  }
}
