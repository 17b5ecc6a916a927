import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { NomadClient, NomadError } from '../../src/nomad/client.js';
import { resolveNomadTarget } from '../../src/nomad/target.js';
import { GATE_KEYS, NodeMetaPublisher, PREFLIGHT_KEYS } from '../../src/sinks/nomad-meta.js';
import { until } from '../helpers/until.js';
import { fakeNomad, OK, statefulNomad } from '../helpers/fake-nomad.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});
async function serve(...args: Parameters<typeof fakeNomad>) {
  const f = await fakeNomad(...args);
  closers.push(f.close);
  return f;
}
function client(env: NodeJS.ProcessEnv, opts = {}) {
  const c = new NomadClient(resolveNomadTarget(env), { backoffMs: 10, ...opts });
  closers.push(() => c.close());
  return c;
}

describe('finding Nomad', () => {
  it('Task API socket first: NOMAD_UNIX_ADDR, else the secrets dir socket if it exists, else NOMAD_ADDR', () => {
    expect(resolveNomadTarget({ NOMAD_UNIX_ADDR: '/a/api.sock', NOMAD_SECRETS_DIR: '/s', NOMAD_ADDR: 'http://x:1' })).toMatchObject({
      via: 'task-api',
      socketPath: '/a/api.sock',
    });
    expect(resolveNomadTarget({ NOMAD_SECRETS_DIR: '/s' }, () => true)).toMatchObject({ via: 'task-api', socketPath: '/s/api.sock' });
    expect(resolveNomadTarget({ NOMAD_SECRETS_DIR: '/s', NOMAD_ADDR: 'http://x:1' }, () => false)).toMatchObject({ via: 'agent', origin: 'http://x:1' });
    expect(resolveNomadTarget({})).toMatchObject({ via: 'agent', origin: 'http://127.0.0.1:4646' });
    expect(resolveNomadTarget({ NOMAD_ADDR: 'https://n:4646', NOMAD_SKIP_VERIFY: 'true', NOMAD_TLS_SERVER_NAME: 'client.global.nomad' }).tls).toEqual({
      servername: 'client.global.nomad',
      rejectUnauthorized: false,
    });
    expect(() => resolveNomadTarget({ NOMAD_ADDR: 'nomad:4646' })).toThrow(/NOMAD_ADDR/);
  });
});

describe('the client against a local Nomad', () => {
  it('Task API: unix socket, Bearer token, exact request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgnomad-'));
    const n = await serve(OK, { path: join(dir, 'api.sock') });
    const c = client({ NOMAD_SECRETS_DIR: dir, NOMAD_TOKEN: 'wi-token' });
    await c.setNodeMeta({ vmgate_ready: 'true', vmgate_reason: '' });
    expect(n.seen).toHaveLength(1);
    expect(n.seen[0]).toMatchObject({ method: 'POST', url: '/v1/client/metadata', body: '{"Meta":{"vmgate_ready":"true","vmgate_reason":""}}' });
    expect(n.seen[0]!.headers).toMatchObject({ authorization: 'Bearer wi-token', 'content-type': 'application/json' });
  });
  it('NOMAD_ADDR over TCP with token, namespace and region', async () => {
    const n = await serve(OK, { port: 0 });
    const c = client({ NOMAD_ADDR: n.addr, NOMAD_TOKEN: 't', NOMAD_NAMESPACE: 'sandbox', NOMAD_REGION: 'eu' });
    expect(await c.getNodeMeta()).toEqual({ Meta: {}, Dynamic: {}, Static: {} });
    expect(n.seen[0]).toMatchObject({ method: 'GET', url: '/v1/client/metadata?namespace=sandbox&region=eu' });
  });
  it('403 is not retried and the error carries method, path, status and the text body', async () => {
    const n = await serve(() => ({ status: 403, body: 'Permission denied' }), { port: 0 });
    const err = (await client({ NOMAD_ADDR: n.addr })
      .setNodeMeta({ a: 'b' })
      .catch((e: unknown) => e)) as NomadError;
    expect(err).toBeInstanceOf(NomadError);
    expect(err).toMatchObject({ method: 'POST', path: '/v1/client/metadata', status: 403, body: 'Permission denied' });
    expect(err.message).toBe('nomad POST /v1/client/metadata: HTTP 403: Permission denied');
    expect(n.seen).toHaveLength(1);
  });
  it('500 is retried with backoff, then fails', async () => {
    const n = await serve(() => ({ status: 500, body: 'rpc error: no leader' }), { port: 0 });
    const err = (await client({ NOMAD_ADDR: n.addr }, { retries: 2 })
      .setNodeMeta({})
      .catch((e: unknown) => e)) as NomadError;
    expect(n.seen).toHaveLength(3);
    expect(err.status).toBe(500);
  });
  it('500 then 200 succeeds on the retry', async () => {
    let i = 0;
    const n = await serve((r) => (i++ === 0 ? { status: 500, body: 'busy' } : OK(r)), { port: 0 });
    await client({ NOMAD_ADDR: n.addr }).setNodeMeta({});
    expect(n.seen).toHaveLength(2);
  });
  it('connection refused is retried, then a precise error', async () => {
    const n = await serve(OK, { port: 0 });
    const addr = n.addr;
    await n.close();
    closers.pop();
    const err = (await client({ NOMAD_ADDR: addr }, { retries: 1 })
      .setNodeMeta({})
      .catch((e: unknown) => e)) as NomadError;
    expect(err).toMatchObject({ status: 0 });
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
  it('a hang times out', async () => {
    const n = await serve(() => 'hang', { port: 0 });
    const t0 = Date.now();
    const err = (await client({ NOMAD_ADDR: n.addr }, { timeoutMs: 300 })
      .setNodeMeta({})
      .catch((e: unknown) => e)) as NomadError;
    expect(err.message).toBe('nomad POST /v1/client/metadata: no answer: timed out after 300ms');
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('node metadata publisher', () => {
  it('writes only what differs from the node, only its own keys, unsets only its own, logs a failure once', async () => {
    let deny = 0;
    const n = await statefulNomad({ port: 0 }, () => deny);
    n.dynamic.vmgate_preflight = 'fail';
    n.dynamic.vmgate_checked_at = '2026-11-27T00:00:00Z';
    const lines: any[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const p = new NodeMetaPublisher(client({ NOMAD_ADDR: n.addr }), log, GATE_KEYS);
    await p.publish('true', []);
    await p.publish('true', []);
    // the retired key from earlier versions goes with the first write; the preflight's keys are left alone
    expect(n.posts).toEqual([{ vmgate_ready: 'true', vmgate_reason: '', vmgate_checked_at: null }]);
    deny = 403;
    await p.publish('false', ['tun-device']);
    await p.publish('false', ['tun-device']);
    expect(lines.filter((l) => l.nomad === 'error')).toHaveLength(1);
    deny = 0;
    await p.publish('false', ['tun-device']);
    expect(n.posts.at(-1)).toEqual({ vmgate_ready: 'false', vmgate_reason: 'tun-device' });
    await p.unset();
    expect(n.posts.at(-1)).toEqual({ vmgate_ready: null, vmgate_reason: null });
    expect(n.dynamic.vmgate_preflight).toBe('fail');
    await n.close();
  });

  it('a new writer reads the node first and writes nothing when the values are already there', async () => {
    const n = await statefulNomad({ port: 0 });
    n.dynamic.vmgate_preflight = 'pass';
    n.dynamic.vmgate_preflight_reason = '';
    const p = new NodeMetaPublisher(client({ NOMAD_ADDR: n.addr }), pino({ level: 'silent' }), PREFLIGHT_KEYS);
    await p.publish('pass', []);
    expect(n.posts).toEqual([]);
    expect(p.writes).toBe(0);
    await p.publish('fail', ['tun-device']);
    expect(n.posts).toEqual([{ vmgate_preflight: 'fail', vmgate_preflight_reason: 'tun-device' }]);
    await n.close();
  });

  it('serve: a verdict flapping 40 times is written at most once per interval, the latest value wins', async () => {
    const n = await statefulNomad({ port: 0 });
    const p = new NodeMetaPublisher(client({ NOMAD_ADDR: n.addr }), pino({ level: 'silent' }), GATE_KEYS);
    for (let i = 0; i < 40; i++) p.publishLatest(i % 2 === 0 ? 'false' : 'true', i % 2 === 0 ? ['netns-capacity'] : [], 200);
    await until(() => n.posts.length >= 1);
    await new Promise((r) => setTimeout(r, 50));
    // one write, of the latest value; a flip within the interval after it waits for the interval
    expect(n.posts).toEqual([{ vmgate_ready: 'true', vmgate_reason: '' }]);
    p.publishLatest('false', ['tun-device'], 600);
    p.publishLatest('true', [], 600);
    p.publishLatest('false', ['tun-device'], 600);
    await new Promise((r) => setTimeout(r, 50));
    expect(n.posts).toHaveLength(1);
    await until(() => n.posts.length === 2);
    expect(n.posts[1]).toEqual({ vmgate_ready: 'false', vmgate_reason: 'tun-device' });
    await p.unset();
    await n.close();
  });

  it('serve: metadata lost by Nomad (restarted empty) is written back at the next refresh', async () => {
    const n = await statefulNomad({ port: 0 });
    const p = new NodeMetaPublisher(client({ NOMAD_ADDR: n.addr }), pino({ level: 'silent' }), GATE_KEYS);
    p.publishLatest('true', [], 0);
    await until(() => n.posts.length === 1);
    p.startRefresh(50);
    await new Promise((r) => setTimeout(r, 120));
    expect(n.posts).toHaveLength(1); // nothing differs: reads only
    for (const k of Object.keys(n.dynamic)) delete n.dynamic[k];
    await until(() => n.posts.length === 2);
    expect(n.dynamic).toMatchObject({ vmgate_ready: 'true', vmgate_reason: '' });
    await p.unset();
    await n.close();
  });
});
