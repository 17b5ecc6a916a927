import type { PressureFacts } from '../host/pressure.js';
import type { CheckResult, CheckStatus } from './types.js';

/** warn from this fraction of a table's limit, fail from that one (serve --pressure-warn / --pressure-fail) */
export interface PressureLimits {
  warn: number;
  fail: number;
}

export const DEFAULT_PRESSURE: PressureLimits = { warn: 0.8, fail: 0.95 };

/** One shared table: used against its limit (null: no limit known), for metrics and the check. */
export interface PressureTable {
  table: 'neigh4' | 'neigh6' | 'conntrack' | 'ports' | 'files' | 'nbd';
  used: number;
  limit: number | null;
  /** what an operator runs to make room, and to see who fills it */
  fix: string;
}

/** The tables read, with their fix. */
export function pressureTables(f: PressureFacts): PressureTable[] {
  const out: PressureTable[] = [];
  const twice = (n: number | null) => 2 ** Math.ceil(Math.log2(Math.max(2 * (n ?? 1024), 2)));
  for (const [table, n, v] of [
    ['neigh4', f.neigh4, 'ipv4'],
    ['neigh6', f.neigh6, 'ipv6'],
  ] as const) {
    if (!n) continue;
    const to = twice(n.gcThresh3);
    out.push({
      table,
      used: n.entries,
      limit: n.gcThresh3,
      fix: `'sysctl -w net.${v}.neigh.default.gc_thresh3=${to} net.${v}.neigh.default.gc_thresh2=${to / 2}'; see who fills it: 'ip -${v === 'ipv4' ? 4 : 6} neigh show | wc -l'`,
    });
  }
  if (f.conntrack)
    out.push({
      table: 'conntrack',
      used: f.conntrack.count,
      limit: f.conntrack.max,
      fix: `'sysctl -w net.netfilter.nf_conntrack_max=${twice(f.conntrack.max)}'; see who fills it: 'conntrack -L | awk "{print \\$4}" | sort | uniq -c | sort -n | tail'`,
    });
  if (f.ports)
    out.push({
      table: 'ports',
      used: f.ports.inUse + f.ports.timeWait,
      limit: f.ports.rangeSize,
      fix: `widen 'sysctl -w net.ipv4.ip_local_port_range="1024 65535"'; see who holds them: 'ss -tan state time-wait | wc -l', 'ss -tanp | head'`,
    });
  if (f.files)
    out.push({
      table: 'files',
      used: f.files.open,
      limit: f.files.max,
      fix: `'sysctl -w fs.file-max=${twice(f.files.max)}'; see who holds them: 'lsof -n | awk "{print \\$2}" | sort | uniq -c | sort -n | tail'`,
    });
  if (f.nbd)
    out.push({
      table: 'nbd',
      used: f.nbd.inUse,
      limit: f.nbd.nbdsMax,
      fix: `reload with more devices ('modprobe -r nbd && modprobe nbd nbds_max=${twice(f.nbd.nbdsMax)}') while no sandbox runs`,
    });
  return out;
}

export interface PressureInput {
  facts: PressureFacts;
  limits: PressureLimits;
  /** serve: refusals by table in the last minute (neighbour table_fulls, conntrack drops); null in check (one look) */
  recentRefusals: Partial<Record<'neigh4' | 'neigh6' | 'conntrack', number>> | null;
  /** serve: since when the xtables lock has been held by the same pids (Date.now()), when known */
  lockHeldSinceMs?: number | null;
  nowMs: number;
}

const NAMES: Record<PressureTable['table'], string> = {
  neigh4: 'IPv4 neighbour table',
  neigh6: 'IPv6 neighbour table',
  conntrack: 'conntrack table',
  ports: 'ephemeral ports (TCP in use + TIME_WAIT)',
  files: 'open files (fs.file-nr)',
  nbd: 'NBD devices',
};

/**
 * host-pressure: how full the kernel's shared tables are. Warn from `limits.warn` of a limit, fail from
 * `limits.fail`, or on refusals the kernel made in the last minute (serve), or on an orphaned / unquiesced NBD
 * device. The xtables lock held warns with who holds it and for how long.
 */
export function checkPressure(p: PressureInput): CheckResult {
  const id = 'host-pressure';
  const tables = pressureTables(p.facts);
  const findings: { status: CheckStatus; text: string }[] = [];
  const details: Record<string, unknown> = {};
  for (const t of tables) {
    const fraction = t.limit ? t.used / t.limit : null;
    details[t.table] = { used: t.used, limit: t.limit, fraction: fraction === null ? null : Math.round(fraction * 1000) / 1000 };
    if (fraction === null) continue;
    const line = `${NAMES[t.table]} ${t.used.toLocaleString('en')}/${t.limit!.toLocaleString('en')} (${Math.round(fraction * 100)}%): ${t.fix}`;
    if (fraction >= p.limits.fail) findings.push({ status: 'fail', text: line });
    else if (fraction >= p.limits.warn) findings.push({ status: 'warn', text: line });
  }
  for (const [table, n] of Object.entries(p.recentRefusals ?? {})) {
    if (!n) continue;
    const t = tables.find((x) => x.table === table);
    const what = table === 'conntrack' ? 'dropped or refused' : 'refused';
    findings.push({
      status: 'fail',
      text: `the kernel ${what} ${n} ${NAMES[table as PressureTable['table']]} entries in the last minute${t ? `: ${t.fix}` : ''}`,
    });
  }
  details.refusals = {
    neigh4TableFulls: p.facts.neigh4?.tableFulls ?? null,
    neigh6TableFulls: p.facts.neigh6?.tableFulls ?? null,
    conntrackDrops: p.facts.conntrack?.drops ?? null,
    recent: p.recentRefusals,
  };
  if (p.facts.nbd && p.facts.nbd.orphaned.length > 0) {
    details.nbdOrphaned = p.facts.nbd.orphaned;
    findings.push({
      status: 'fail',
      text: `${p.facts.nbd.orphaned.length} NBD devices are orphaned or not quiesced (${p.facts.nbd.orphaned
        .slice(0, 5)
        .map((o) => `${o.device}: ${o.why}`)
        .join(', ')}): a sandbox reusing one fails ("Receive control failed"); disconnect them ('nbd-client -d /dev/nbdN')`,
    });
  }
  for (const o of p.facts.orchestratorFds) {
    if (!o.limit) continue;
    const fraction = o.open / o.limit;
    const line = `orchestrator pid ${o.pid} has ${o.open}/${o.limit} open files (${Math.round(fraction * 100)}% of its RLIMIT_NOFILE): raise its limit (Nomad: the task's ulimit, systemd: LimitNOFILE)`;
    if (fraction >= p.limits.fail) findings.push({ status: 'fail', text: line });
    else if (fraction >= p.limits.warn) findings.push({ status: 'warn', text: line });
  }
  details.orchestratorFds = p.facts.orchestratorFds;
  const lock = p.facts.xtablesLock;
  if (lock && lock.holders.length > 0) {
    const age = p.lockHeldSinceMs != null ? ` for ${Math.round((p.nowMs - p.lockHeldSinceMs) / 1000)}s` : '';
    details.xtablesLock = { ...lock, heldSeconds: p.lockHeldSinceMs != null ? Math.round((p.nowMs - p.lockHeldSinceMs) / 1000) : null };
    findings.push({
      status: 'warn',
      text: `${lock.path} is held${age} by ${lock.holders.map((h) => `pid ${h.pid} (${h.comm})`).join(', ')}: every iptables call waits for it, so slot creation hangs while it is held`,
    });
  }
  const worst: CheckStatus = findings.some((f) => f.status === 'fail') ? 'fail' : findings.length > 0 ? 'warn' : 'pass';
  if (worst === 'pass') {
    const summary = tables
      .filter((t) => t.limit)
      .map((t) => `${t.table} ${t.used}/${t.limit}`)
      .join(', ');
    return { id, status: 'pass', message: `the kernel's shared tables have room (${summary || 'none readable'})`, details };
  }
  const ordered = [...findings.filter((f) => f.status === 'fail'), ...findings.filter((f) => f.status === 'warn')];
  return { id, status: worst, message: ordered.map((f) => f.text).join('; '), details };
}
