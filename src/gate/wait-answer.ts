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

/** Validates a slot query; returns the request or the error that names the bad parameter. */
export function parseWaitQuery(params: URLSearchParams, defaultTimeoutMs = 10_000, defaultIface = 'tap0'): WaitRequest | { error: string } {
  for (const key of params.keys()) {
    if (!['netns', 'iface', 'timeout_ms', 'pid'].includes(key)) return { error: `unknown parameter '${key}'` };
  }
  for (const key of ['netns', 'iface', 'timeout_ms', 'pid']) {
    if (params.getAll(key).length > 1) return { error: `parameter '${key}' given more than once` };
  }
  const netns = params.get('netns');
  if (netns === null || netns === '') return { error: "parameter 'netns' is required" };
  if (!NETNS_NAME.test(netns)) return { error: "parameter 'netns' must be 1 to 64 of A-Z a-z 0-9 . _ -" };
  const iface = params.get('iface') ?? defaultIface;
  if (!IFNAME.test(iface)) return { error: "parameter 'iface' must be 1 to 15 of A-Z a-z 0-9 . _ -" };
  let timeoutMs = defaultTimeoutMs;
  const t = params.get('timeout_ms');
  if (t !== null) {
    if (!/^\d{1,9}$/.test(t) || Number(t) > MAX_TIMEOUT_MS) return { error: `parameter 'timeout_ms' must be a whole number from 0 to ${MAX_TIMEOUT_MS}` };
    timeoutMs = Number(t);
  }
  const req: WaitRequest = { netns, iface, timeoutMs };
  const p = params.get('pid');
  if (p !== null) {
    if (!/^[1-9]\d{0,9}$/.test(p) || Number(p) > 4_194_304) return { error: "parameter 'pid' must be a process id (1 to 4194304)" };
    req.pid = Number(p);
  }
  return req;
}
