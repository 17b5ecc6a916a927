import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gate } from '../../gate/gate.js';
import type { HostVerdict } from '../../gate/host-verdict.js';
import { parseWaitQuery, WAIT_STATUS } from '../../gate/wait-answer.js';
import { sendJson, sendText } from './respond.js';

/** Kubernetes /readyz style: one line per check, then the verdict. */
export function verboseVerdict(v: HostVerdict): string {
  const lines =
    v.reason === 'starting'
      ? ['[-]starting failed: the first evaluation has not finished']
      : v.checks.map((c) =>
          c.status === 'fail' ? `[-]${c.id} failed: ${c.message}` : c.status === 'unknown' ? `[?]${c.id} unknown: ${c.message}` : `[+]${c.id} ok`,
        );
  lines.push(v.ready ? 'ready' : 'not ready');
  return `${lines.join('\n')}\n`;
}

export function hostAnswer(gate: Gate, res: ServerResponse, verbose: boolean): void {
  const v = gate.verdict;
  const status = v.ready ? 200 : 503;
  if (verbose) return sendText(res, status, verboseVerdict(v));
  const failing = v.checks.filter((c) => c.status === 'fail');
  sendJson(
    res,
    status,
    {
      ready: v.ready,
      ...(v.ready ? {} : { reason: v.reason ?? 'host-not-ready' }),
      checks: v.ready || v.reason ? v.checks : failing,
      checkedAt: v.checkedAt,
    },
    v.reason === 'starting' ? { 'retry-after': '1' } : {},
  );
}

export async function readyForVm(gate: Gate, req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
  const keys = [...params.keys()];
  // ?verbose and ?verbose=1 (or true) answer the readyz-style text; ?verbose=0 (or false) the JSON
  if (keys.length === 0 || (keys.length === 1 && keys[0] === 'verbose'))
    return hostAnswer(gate, res, keys.length === 1 && !/^(0|false)$/i.test(params.get('verbose') ?? ''));
  // --tap is the default interface here too
  const parsed = parseWaitQuery(params, 10_000, gate.config.tap);
  if ('error' in parsed) {
    return sendJson(res, 400, {
      ready: false,
      reason: 'bad-request',
      error: parsed.error,
      netns: params.get('netns'),
      iface: params.get('iface') ?? gate.config.tap,
    });
  }
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on('close', onClose);
  const answer = await gate.wait(parsed, abort.signal);
  res.off('close', onClose);
  if (answer === null || res.destroyed) return;
  const body: Record<string, unknown> = { ...answer };
  if (answer.reason === 'host-not-ready') body.checks = gate.verdict.checks.filter((c) => c.status === 'fail');
  sendJson(res, WAIT_STATUS[answer.reason], body, answer.reason === 'starting' ? { 'retry-after': '1' } : {});
}
