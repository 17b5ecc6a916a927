import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

const PROTO = new URL('../../proto/info.proto', import.meta.url).pathname;

/**
 * The orchestrator's InfoService on loopback, from the .proto vmgate ships, with a status a test sets: the override
 * is refused only Draining -> Standby (FailedPrecondition), as the orchestrator does. Records every override.
 */
export async function fakeOrchestrator(initial: 'Healthy' | 'Draining' | 'Unhealthy' | 'Standby' = 'Healthy') {
  const def = await loader.load(PROTO, { keepCase: false, enums: String, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { InfoService: { service: grpc.ServiceDefinition } };
  const state = { status: initial as string, overrides: [] as string[], reads: 0, refuse: false };
  const server = new grpc.Server();
  server.addService(pkg.InfoService.service, {
    ServiceInfo: (_call: unknown, cb: grpc.sendUnaryData<object>) => {
      state.reads += 1;
      if (state.refuse) return cb({ code: grpc.status.UNAVAILABLE, details: 'orchestrator restarting' }, null);
      cb(null, {
        nodeId: 'node-1',
        serviceId: 'svc-1',
        serviceStatus: state.status,
        serviceStatusChangedAt: { seconds: 1_700_000_000, nanos: 0 },
        metricSandboxesRunning: 3,
      });
    },
    ServiceStatusOverride: (call: { request: { serviceStatus: string } }, cb: grpc.sendUnaryData<object>) => {
      const want = call.request.serviceStatus;
      if (state.refuse) return cb({ code: grpc.status.UNAVAILABLE, details: 'orchestrator restarting' }, null);
      if (state.status === 'Draining' && want === 'Standby')
        return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'cannot go from Draining to Standby' }, null);
      state.overrides.push(want);
      state.status = want;
      cb(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { state, address: `127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}
