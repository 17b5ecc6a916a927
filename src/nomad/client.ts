import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent, request as Request } from 'undici';
import type { NomadTarget } from './target.js';

/** A failed Nomad call: method, path, status (0 when no answer) and Nomad's text body. */
export class NomadError extends Error {
  override name = 'NomadError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`nomad ${method} ${path}: ${status ? `HTTP ${status}` : 'no answer'}${body ? `: ${body.trim().slice(0, 300)}` : ''}`);
  }
}

export interface NomadClientOptions {
  /** per attempt */
  timeoutMs?: number;
  /** extra attempts for connection errors and 5xx */
  retries?: number;
  backoffMs?: number;
}

const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/** One small client for the Nomad HTTP API: timeouts on every call, bounded retries, precise errors. */
export class NomadClient {
  /** undici is loaded on the first call (20 MB of RSS that a gate without --nomad-meta never needs) */
  private http: Promise<{ agent: Agent; request: typeof Request }> | null = null;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;

  constructor(
    readonly target: NomadTarget,
    opts: NomadClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.retries = opts.retries ?? 2;
    this.backoffMs = opts.backoffMs ?? 200;
  }

  /** Loads the HTTP client now (serve, before it starts: a module load is a stall best taken before any request). */
  async warm(): Promise<void> {
    await this.undici();
  }

  private undici(): Promise<{ agent: Agent; request: typeof Request }> {
    const target = this.target;
    this.http ??= import('undici').then(({ Agent, request }) => ({
      request,
      agent: new Agent({
        connect: {
          ...(target.socketPath ? { socketPath: target.socketPath } : {}),
          ...(target.tls ?? {}),
          timeout: this.timeoutMs,
        },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      }),
    }));
    return this.http;
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const query = new URLSearchParams();
    if (this.target.namespace) query.set('namespace', this.target.namespace);
    if (this.target.region) query.set('region', this.target.region);
    const url = `${this.target.origin}${path}${query.size ? `?${query}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 0; ; attempt++) {
      let err: NomadError;
      try {
        const { agent, request } = await this.undici();
        const res = await request(url, {
          method,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          dispatcher: agent,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await res.body.text();
        if (res.statusCode < 300) return (text ? JSON.parse(text) : null) as T;
        err = new NomadError(method, path, res.statusCode, text);
        if (res.statusCode < 500) throw err;
      } catch (e) {
        if (e instanceof NomadError) throw e;
        const code = (e as NodeJS.ErrnoException).code ?? (e as Error).name;
        const timedOut = (e as Error).name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
        err = new NomadError(method, path, 0, timedOut ? `timed out after ${this.timeoutMs}ms` : `${code}: ${(e as Error).message}`);
        if (timedOut || !RETRYABLE.has(code)) throw err;
      }
      if (attempt >= this.retries) throw err;
      await sleep(this.backoffMs * 2 ** attempt);
    }
  }

  /** Dynamic node metadata (Nomad 1.5+); a null value unsets the key. */
  setNodeMeta(meta: Record<string, string | null>): Promise<unknown> {
    return this.call('POST', '/v1/client/metadata', { Meta: meta });
  }

  /** Dynamic holds what was written through the API; a key unset there shows as null until the client forgets it. */
  getNodeMeta(): Promise<{ Meta: Record<string, string>; Dynamic: Record<string, string | null>; Static: Record<string, string> }> {
    return this.call('GET', '/v1/client/metadata');
  }

  async close(): Promise<void> {
    if (this.http) await (await this.http).agent.close();
  }
}
