import { recheckLeftover } from '../checks/recheck-leftover.js';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostConfig } from '../config/host-config.js';
import { checkHostVisibility } from '../checks/host-visibility.js';
import { classifySlots, type SlotView } from '../checks/slots.js';
import { readSlotLinks } from '../host/links.js';
import { NETNS_DIR, statNamedNamespace } from '../host/named-namespaces.js';
import { readProcessTable } from '../host/proc-table.js';
import { orchestratorsIn, placeTunsAndSockets, takeSnapshot } from '../host/snapshot.js';
import { readHostLinks } from '../host/host-side.js';
import { hostVethName, slotIndex } from '../config/slot-layout.js';
import { reclaimHostState, type HostFixedEntry } from './reclaim-host-state.js';
import type { HostFacts, LinkFacts } from '../host/types.js';
import type { Logger } from '../logging/logger.js';
import { NamespaceDeleter, SAFE_NETNS_NAME } from './delete-namespaces.js';
import { killOrphans } from './kill-orphans.js';
import type { FixedEntry } from './types.js';

export interface CleanupOptions {
  dryRun: boolean;
  killOrphans: boolean;
  killGraceMs: number;
  /** pause before the final re-verification, so a slot being set up right now shows its process */
  settleMs: number;
  /** namespaces verified and deleted together: the window between a slot's last check and its delete is one batch */
  batchSize?: number;
  /** called before each batch is verified (tests use it to change the host at exactly that moment) */
  beforeVerify?: (names: string[]) => Promise<void>;
  /** also remove extra copies of live slots' firewall rules, leaving exactly one (--dedupe-rules) */
  dedupeRules?: boolean;
  /** called before host state is read again right before its delete (tests) */
  beforeHostVerify?: () => Promise<void>;
  /** the snapshot the caller has just judged (check): reused as cleanup's first look; every delete is re-verified anyway */
  facts?: HostFacts;
}

export interface CleanupResult {
  /** set when nothing (more) was touched on purpose: an orchestrator runs, or vmgate cannot see the host */
  refused?: string;
  fixed: FixedEntry[];
  /** what was done to host state (rules, routes) of dead slots, with a slot layout */
  hostFixed?: HostFixedEntry[];
  /** why host state was left alone (could not be read completely), when it was */
  hostRefused?: string;
}

const DEFAULT_BATCH = 200;

/**
 * The only code that deletes namespaces. Acts only on positive evidence: vmgate sees the whole host, no
 * orchestrator runs, and each leftover is re-verified right before its own batch is deleted (see verifyBatch).
 */
export async function cleanup(config: HostConfig, opts: CleanupOptions, log: Logger): Promise<CleanupResult> {
  const r = await cleanupNamespaces(config, opts, log);
  if (r.refused || !config.slotLayout) return r;
  // deleted namespaces take their veths with them, asynchronously: their rules are orphaned only once the veth is gone
  const deleted = r.fixed.filter((f) => f.action === 'deleted').map((f) => f.netns);
  if (deleted.length > 0) await vethsGone(config, deleted);
  const host = await reclaimHostState(
    config,
    { dryRun: opts.dryRun, dedupe: opts.dedupeRules ?? false, ...(opts.beforeHostVerify ? { beforeVerify: opts.beforeHostVerify } : {}) },
    log,
  );
  if (host.refused) log.warn({}, host.refused);
  return { ...r, hostFixed: host.fixed, ...(host.refused ? { hostRefused: host.refused } : {}) };
}

/** Waits (at most 5 s) until no host veth of these deleted slots is left. */
async function vethsGone(config: HostConfig, names: string[]): Promise<void> {
  const layout = config.slotLayout!;
  const want = new Set(
    names
      .map((n) => slotIndex(n, config.netnsPattern))
      .filter((i): i is number => i !== null)
      .map((i) => hostVethName(layout, i)),
  );
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    const links = await readHostLinks().catch(() => null);
    if (links && !links.some((l) => want.has(l.name))) return;
    await sleep(50);
  }
}

async function cleanupNamespaces(config: HostConfig, opts: CleanupOptions, log: Logger): Promise<CleanupResult> {
  let facts = opts.facts ?? (await takeSnapshot(config));
  const visibility = checkHostVisibility(facts);
  if (visibility.status === 'fail') return { refused: `nothing was touched: ${visibility.message}`, fixed: [] };
  let view = classifySlots(facts, config);
  if (view.orchestratorRunning) return { refused: refusal(view.orchestrators.map((p) => p.pid)), fixed: [] };
  const fixed: FixedEntry[] = [];
  if (opts.killOrphans && view.orphans.length > 0) {
    if (opts.dryRun) {
      for (const o of view.orphans) fixed.push({ netns: o.netns, action: 'would-kill', pid: o.pid, tap: o.tap });
    } else {
      const inodes = new Map(facts.namespaces.map((n) => [n.name, n.inode]));
      fixed.push(
        ...(await killOrphans(
          view.orphans.map((o) => ({ orphan: o, netnsInode: inodes.get(o.netns)! })),
          opts.killGraceMs,
          log,
        )),
      );
      facts = await takeSnapshot(config);
      view = classifySlots(facts, config);
    }
  }
  const candidates = view.slots.filter((s) => s.leftover);
  if (opts.dryRun) {
    for (const s of candidates) fixed.push({ netns: s.name, action: 'would-delete' });
    return { fixed };
  }
  if (candidates.length === 0) return { fixed };
  if (opts.settleMs > 0) await sleep(opts.settleMs);
  // taps once for all (reading links while namespaces are being torn down contends with the kernel's cleanup)
  const links = await readSlotLinks(candidates);
  const deleter = new NamespaceDeleter();
  try {
    const size = opts.batchSize ?? DEFAULT_BATCH;
    for (let i = 0; i < candidates.length; i += size) {
      const batch = candidates.slice(i, i + size);
      await opts.beforeVerify?.(batch.map((s) => s.name));
      const r = await verifyAndDelete(batch, config, links, deleter, log);
      fixed.push(...r.fixed);
      if (r.refused) return { refused: r.refused, fixed };
    }
  } finally {
    deleter.close();
  }
  return { fixed };
}

function refusal(pids: number[], more = false): string {
  return `orchestrator is running (pid ${pids.join(',')}): its idle slots are its pool; nothing ${more ? 'more ' : ''}was touched`;
}

interface Held {
  slot: SlotView;
  fd: number;
  device: number;
  inode: number;
}

/**
 * Holds an fd on each namespace first, so its inode cannot be reused by a new namespace while we look (inodes
 * are reused at once otherwise), then re-reads every process (the taps were re-read once after the settle), then
 * deletes what still has no user.
 */
async function verifyAndDelete(
  batch: SlotView[],
  config: HostConfig,
  links: Map<string, LinkFacts[] | Error>,
  deleter: NamespaceDeleter,
  log: Logger,
): Promise<CleanupResult> {
  const fixed: FixedEntry[] = [];
  const skip = (netns: string, reason: string) => {
    fixed.push({ netns, action: 'skipped', reason });
    log.warn({ netns, reason }, `left ${netns} alone: ${reason}`);
  };
  const held: Held[] = [];
  try {
    for (const s of batch) {
      const h = hold(s);
      if (typeof h === 'string') skip(s.name, h);
      else held.push(h);
    }
    if (held.length === 0) return { fixed };
    const table = readProcessTable();
    if (table.error) return { refused: `${table.error} during re-verification; nothing more was touched`, fixed };
    const placeError = await placeTunsAndSockets(table);
    const orchestrators = orchestratorsIn(table, config.orchestratorComm);
    // earlier batches may have been deleted already: "nothing more"
    if (orchestrators.length > 0)
      return {
        refused: refusal(
          orchestrators.map((p) => p.pid),
          true,
        ),
        fixed,
      };
    const verified: Held[] = [];
    const now = Date.now();
    for (const h of held) {
      const reason = recheck(h, config, now, links.get(h.slot.name), table.processes, placeError);
      if (reason) skip(h.slot.name, reason);
      else verified.push(h);
    }
    const results = await deleter.delete(verified.map((h) => h.slot.name));
    for (const { slot: s } of verified) report(s, results.get(s.name) ?? null, config, fixed, log);
    return { fixed };
  } finally {
    for (const h of held) closeSync(h.fd);
  }
}

/** An fd on the namespace the name points at now; a reason string if it is gone or no longer the one we judged. */
function hold(s: SlotView): Held | string {
  if (!SAFE_NETNS_NAME.test(s.name)) return 'name has characters ip -batch cannot take';
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink put in its place since the judgement is refused here (ELOOP), never followed
    fd = openSync(`${NETNS_DIR}/${s.name}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'already gone' : code === 'ELOOP' ? 'now a symbolic link' : `could not be opened (${code})`;
  }
  const st = fstatSync(fd);
  // inodes are reused at once: a namespace deleted and re-created under this name may have the same one
  if (st.ino !== s.inode || st.ctimeMs !== s.createdAtMs) {
    closeSync(fd);
    return 'name now points at another namespace';
  }
  return { slot: s, fd, device: st.dev, inode: st.ino };
}

function recheck(
  h: Held,
  config: HostConfig,
  now: number,
  links: LinkFacts[] | Error | undefined,
  procs: ReturnType<typeof readProcessTable>['processes'],
  placeError: string | undefined,
): string | null {
  const s = h.slot;
  const named = statNamedNamespace(`${NETNS_DIR}/${s.name}`, s.name);
  return recheckLeftover(
    {
      name: s.name,
      held: { inode: h.inode, device: h.device },
      named,
      nowMs: now,
      links,
      processes: procs,
      selfPid: process.pid,
      ...(placeError ? { placeError } : {}),
    },
    config,
  );
}

function report(s: SlotView, err: string | null, config: HostConfig, fixed: FixedEntry[], log: Logger): void {
  const tap = s.taps.find((t) => t.name === config.tap);
  const line = { netns: s.name, tap: config.tap, tapFlags: tap?.flags.join(',') ?? 'no-tap', ageSeconds: s.ageSeconds };
  if (err === null) {
    fixed.push({ netns: s.name, action: 'deleted' });
    log.info(line, `deleted leftover namespace ${s.name} (${config.tap} ${tap ? tap.flags.join(',') : 'absent'}, idle, ${s.ageSeconds}s old, no orchestrator)`);
  } else {
    fixed.push({ netns: s.name, action: 'failed', reason: err });
    log.error({ ...line, err }, `could not delete leftover namespace ${s.name}: ${err}`);
  }
}
