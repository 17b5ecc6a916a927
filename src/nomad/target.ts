import { existsSync, readFileSync } from 'node:fs';

export interface NomadTarget {
  /** how the client was found, for logs: task-api (unix socket) or agent (NOMAD_ADDR) */
  via: 'task-api' | 'agent';
  origin: string;
  socketPath?: string;
  token?: string;
  namespace?: string;
  region?: string;
  tls?: { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized: boolean };
}

/**
 * Where Nomad is, in order: the Task API socket (NOMAD_UNIX_ADDR, else ${NOMAD_SECRETS_DIR}/api.sock if it
 * exists), else NOMAD_ADDR (default http://127.0.0.1:4646) with the CLI's TLS variables.
 */
export function resolveNomadTarget(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): NomadTarget {
  const common = {
    ...(env.NOMAD_TOKEN ? { token: env.NOMAD_TOKEN } : {}),
    ...(env.NOMAD_NAMESPACE ? { namespace: env.NOMAD_NAMESPACE } : {}),
    ...(env.NOMAD_REGION ? { region: env.NOMAD_REGION } : {}),
  };
  const unixAddr = env.NOMAD_UNIX_ADDR?.replace(/^unix:\/\//, '');
  const secretsSock = env.NOMAD_SECRETS_DIR ? `${env.NOMAD_SECRETS_DIR}/api.sock` : undefined;
  const socketPath = unixAddr || (secretsSock && exists(secretsSock) ? secretsSock : undefined);
  if (socketPath) return { via: 'task-api', origin: 'http://localhost', socketPath, ...common };
  const addr = (env.NOMAD_ADDR || 'http://127.0.0.1:4646').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(addr)) throw new Error(`NOMAD_ADDR '${addr}' must be http://HOST:PORT or https://HOST:PORT`);
  const target: NomadTarget = { via: 'agent', origin: addr, ...common };
  if (addr.startsWith('https://')) {
    const read = (p?: string) => (p ? readFileSync(p, 'utf8') : undefined);
    target.tls = {
      ...(env.NOMAD_CACERT ? { ca: read(env.NOMAD_CACERT) } : {}),
      ...(env.NOMAD_CLIENT_CERT ? { cert: read(env.NOMAD_CLIENT_CERT) } : {}),
      ...(env.NOMAD_CLIENT_KEY ? { key: read(env.NOMAD_CLIENT_KEY) } : {}),
      ...(env.NOMAD_TLS_SERVER_NAME ? { servername: env.NOMAD_TLS_SERVER_NAME } : {}),
      rejectUnauthorized: !/^(1|true)$/i.test(env.NOMAD_SKIP_VERIFY ?? ''),
    };
  }
  return target;
}
