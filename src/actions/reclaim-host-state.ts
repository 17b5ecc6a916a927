import { spawn } from 'node:child_process';
import { judgeHostState, slotNamesByIndex, type HostStateView, type OrphanedSlotState } from '../checks/host-state.js';
import type { HostConfig } from '../config/host-config.js';
import { iptablesTools, type FirewallRule } from '../host/firewall.js';
import { readHostSide } from '../host/host-side.js';
import { listNamedNamespaces } from '../host/named-namespaces.js';
import type { Logger } from '../logging/logger.js';
import type { HostFixedEntry } from '../checks/fixed-entry.js';
export type { HostFixedEntry } from '../checks/fixed-entry.js';

export interface HostReclaimOptions {
  dryRun: boolean;
  /** also delete extra copies of live slots' rules, leaving exactly one */
  dedupe: boolean;
  /** called between the judgement and the re-read right before the delete (tests change the host there) */
  beforeVerify?: () => Promise<void>;
}

/**
 * The host's slot state as it is now, judged from fresh names, links, routes and rules. What decides "orphaned"
 * only: no namespace of that index by name and no veth (an unnamed namespace keeps its veth). Who is inside
 * unnamed namespaces is not read here (that is for reports: inventory, check).
 */
export async function readHostState(config: HostConfig): Promise<HostStateView | null> {
  if (!config.slotLayout) return null;
  const listing = listNamedNamespaces();
  const owned = listing.namespaces.map((n) => n.name).filter((n) => config.netnsPattern.test(n));
  return judgeHostState({
    layout: config.slotLayout,
    facts: await readHostSide([], new Set()),
    namedIndexes: slotNamesByIndex(owned, config.netnsPattern),
    namedNsids: new Set(),
    namesError: listing.error ?? null,
  });
}

/**
 * Deletes the firewall rules and routes of dead slots (and, with dedupe, extra copies of live slots' rules). Acts
 * on positive evidence only: what was judged orphaned is read and judged again right before the delete (the slot
 * still has no namespace by name, no veth, no unnamed namespace; the rule is still there byte for byte), and only
 * what both judgements agree on is deleted. All rule deletions of a backend go to one `iptables-restore --noflush`
 * (tested first with --test; a table is committed whole or not at all).
 */
export async function reclaimHostState(config: HostConfig, opts: HostReclaimOptions, log: Logger): Promise<{ fixed: HostFixedEntry[]; refused?: string }> {
  const first = await readHostState(config);
  if (!first) return { fixed: [] };
  if (first.incomplete !== null) return { fixed: [], refused: `host rules and routes left alone: ${first.incomplete}` };
  const dupes = opts.dedupe ? first.duplicates : [];
  if (opts.dryRun) {
    return {
      fixed: [
        ...first.orphaned.map((o) => entry(o, 'would-delete')),
        ...dupes.map((d) => ({
          slot: d.index,
          veth: first.slots.get(d.index)?.veth ?? '',
          action: 'would-deduplicate' as const,
          rules: d.copies - 1,
          routes: 0,
        })),
      ],
    };
  }
  if (first.orphaned.length === 0 && dupes.length === 0) return { fixed: [] };
  await opts.beforeVerify?.();
  const now = await readHostState(config);
  if (!now || now.incomplete !== null) return { fixed: [], refused: `host rules and routes left alone: ${now?.incomplete ?? 'not read again'}` };
  const fixed: HostFixedEntry[] = [];
  const still = new Map(now.orphaned.map((o) => [o.index, o]));
  const deletions: FirewallRule[] = [];
  const routes: OrphanedSlotState['routes'] = [];
  const done: { o: OrphanedSlotState; rules: FirewallRule[] }[] = [];
  for (const o of first.orphaned) {
    const again = still.get(o.index);
    if (!again) {
      fixed.push({ ...entry(o, 'skipped'), reason: 'no longer orphaned when read again (a namespace, veth or holder appeared)' });
      continue;
    }
    // only copies present in both reads, each as many times as both saw it
    const rules = common(o.rules, again.rules);
    const rts = again.routes.filter((r) => o.routes.some((x) => x.dst === r.dst && x.dev === r.dev));
    deletions.push(...rules);
    routes.push(...rts);
    done.push({ o: { ...again, rules, routes: rts }, rules });
  }
  const liveDupes = opts.dedupe ? now.duplicates.filter((d) => dupes.some((x) => x.index === d.index && x.rule.line === d.rule.line)) : [];
  for (const d of liveDupes) {
    const was = dupes.find((x) => x.index === d.index && x.rule.line === d.rule.line)!;
    // -D removes one copy a line: copies - 1 lines leave exactly one
    for (let i = 1; i < Math.min(d.copies, was.copies); i++) deletions.push(d.rule);
  }
  const ruleErrors = await deleteRules(deletions);
  const routeError = await deleteRoutes(routes);
  for (const { o, rules } of done) {
    const err = rules.map((r) => ruleErrors.get(r.backend)).find((e) => e) ?? (o.routes.length > 0 ? routeError : null);
    const e: HostFixedEntry = err ? { ...entry(o, 'failed'), reason: err } : entry(o, 'deleted');
    fixed.push(e);
    const line = { slot: o.index, veth: o.veth, hostIp: o.hostIp, rules: o.rules.length, routes: o.routes.length };
    if (err) log.error({ ...line, err }, `could not delete host state of dead slot ${o.index} (${o.veth}): ${err}`);
    else
      log.info(
        line,
        `deleted ${o.rules.length} firewall rules and ${o.routes.length} routes of dead slot ${o.index} (${o.veth}, ${o.hostIp ?? '-'}): no namespace, no veth, no holder`,
      );
  }
  for (const d of liveDupes) {
    const err = ruleErrors.get(d.rule.backend) ?? null;
    const n = d.copies - 1;
    fixed.push({
      slot: d.index,
      veth: now.slots.get(d.index)?.veth ?? '',
      action: err ? 'failed' : 'deduplicated',
      rules: n,
      routes: 0,
      ...(err ? { reason: err } : {}),
    });
    if (!err) log.info({ slot: d.index, rule: d.rule.line, copies: d.copies }, `removed ${n} extra copies of live slot ${d.index}'s rule '${d.rule.line}'`);
  }
  return { fixed };
}

function entry(o: OrphanedSlotState, action: HostFixedEntry['action']): HostFixedEntry {
  return { slot: o.index, veth: o.veth, action, rules: o.rules.length, routes: o.routes.length };
}

/** The rules of `a` that are also in `b`, each copy matched once (byte for byte, same backend and table). */
function common(a: FirewallRule[], b: FirewallRule[]): FirewallRule[] {
  const left = b.map((r) => `${r.backend} ${r.table} ${r.line}`);
  const out: FirewallRule[] = [];
  for (const r of a) {
    const i = left.indexOf(`${r.backend} ${r.table} ${r.line}`);
    if (i >= 0) {
      left.splice(i, 1);
      out.push(r);
    }
  }
  return out;
}

/** One restore per backend, tested first: per backend, null when done or why not. */
async function deleteRules(rules: FirewallRule[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (const backend of ['nft', 'legacy'] as const) {
    const mine = rules.filter((r) => r.backend === backend);
    if (mine.length === 0) continue;
    const tools = iptablesTools(backend);
    if (!tools) {
      out.set(backend, `iptables-${backend}-restore is not installed`);
      continue;
    }
    const byTable = new Map<string, string[]>();
    for (const r of mine) (byTable.get(r.table) ?? byTable.set(r.table, []).get(r.table)!).push(`-D${r.line.slice(2)}`);
    const input = [...byTable].map(([t, lines]) => `*${t}\n${lines.join('\n')}\nCOMMIT\n`).join('');
    const test = await feed(tools.restore, ['--noflush', '--wait', '5', '--test'], input);
    out.set(backend, test ?? (await feed(tools.restore, ['--noflush', '--wait', '5'], input)));
  }
  return out;
}

/** One `ip -batch` of `route del` lines; null when done. */
async function deleteRoutes(routes: OrphanedSlotState['routes']): Promise<string | null> {
  if (routes.length === 0) return null;
  const input = routes.map((r) => `route del ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}\n`).join('');
  return feed('ip', ['-force', '-batch', '-'], input);
}

/** Runs a command with stdin, bounded in time; null on exit 0, else its last error line. */
function feed(file: string, args: string[], input: string, timeoutMs = 30_000): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(`${file} could not run: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('# Warning'))
        .pop();
      resolve(
        code === 0 ? null : `${file.split('/').pop()} ${signal ? `killed (${signal}) after ${timeoutMs} ms` : `exited ${code}`}${last ? `: ${last}` : ''}`,
      );
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
