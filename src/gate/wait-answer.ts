import { IFNAME } from '../config/host-config.js';
/** The slot gate's answers: every reason code with its HTTP status. */
export const WAIT_STATUS = {
  'carrier-up': 200,
  'bad-request': 400,
  'netns-not-found': 404,
  'iface-not-found': 404,
  'iface-admin-down': 409,
  'vmm-exited': 503,
  'netns-unwatched': 503,
  'host-not-ready': 503,
  starting: 503,
  'too-many-waiters': 503,
  'shutting-down': 503,
  timeout: 504,
} as const;

export type WaitReason = keyof typeof WAIT_STATUS;

export interface WaitRequest {
  netns: string;
  iface: string;
  timeoutMs: number;
  pid?: number;
}

export interface WaitAnswer {
  ready: boolean;
  reason: WaitReason;
  netns: string;
  iface: string;
  carrier: boolean;
  waitedMs: number;
  holders: { pid: number; comm: string }[];
  pid?: number;
  error?: string;
}

export const NETNS_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const MAX_TIMEOUT_MS = 120_000;

/** What a slot wait's fields are called where they come from: HTTP parameters or `vmgate wait` flags. */
export interface WaitFieldNames {
  netns: string;
  iface: string;
  timeout: string;
  pid: string;
}

const HTTP_NAMES: WaitFieldNames = { netns: "parameter 'netns'", iface: "parameter 'iface'", timeout: "parameter 'timeout_ms'", pid: "parameter 'pid'" };

/**
 * The one validation of a slot wait, whatever it came from; errors name the field as the caller calls it. `timeout`
 * is milliseconds as text (HTTP) or a number (a parsed duration); undefined fields take the defaults.
 */
export function waitRequest(
  f: { netns: string | undefined; iface: string; timeoutMs: number | string | undefined; pid: string | undefined },
  names: WaitFieldNames,
  defaultTimeoutMs = 10_000,
): WaitRequest | { error: string } {
  if (f.netns === undefined || f.netns === '') return { error: `${names.netns} is required` };
  if (!NETNS_NAME.test(f.netns)) return { error: `${names.netns} must be 1 to 64 of A-Z a-z 0-9 . _ -` };
  if (!IFNAME.test(f.iface)) return { error: `${names.iface} must be 1 to 15 of A-Z a-z 0-9 . _ -` };
  let timeoutMs = defaultTimeoutMs;
  if (f.timeoutMs !== undefined) {
    const t = String(f.timeoutMs);
    if (!/^\d{1,9}$/.test(t) || Number(t) > MAX_TIMEOUT_MS) return { error: `${names.timeout} must be a whole number from 0 to ${MAX_TIMEOUT_MS}` };
    timeoutMs = Number(t);
  }
  const req: WaitRequest = { netns: f.netns, iface: f.iface, timeoutMs };
  if (f.pid !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(f.pid) || Number(f.pid) > 4_194_304) return { error: `${names.pid} must be a process id (1 to 4194304)` };
    req.pid = Number(f.pid);
  }
  return req;
}

/** Validates a slot query; returns the request or the error that names the bad parameter. */
export function parseWaitQuery(params: URLSearchParams, defaultTimeoutMs = 10_000, defaultIface = 'tap0'): WaitRequest | { error: string } {
  for (const key of params.keys()) {
    if (!['netns', 'iface', 'timeout_ms', 'pid'].includes(key)) return { error: `unknown parameter '${key}'` };
  }
  for (const key of ['netns', 'iface', 'timeout_ms', 'pid']) {
    if (params.getAll(key).length > 1) return { error: `parameter '${key}' given more than once` };
  }
  return waitRequest(
    {
      netns: params.get('netns') ?? undefined,
      iface: params.get('iface') ?? defaultIface,
      timeoutMs: params.get('timeout_ms') ?? undefined,
      pid: params.get('pid') ?? undefined,
    },
    HTTP_NAMES,
    defaultTimeoutMs,
  );
}
