import { setTimeout as sleep } from 'node:timers/promises';
import type { HostConfig } from '../config/host-config.js';
import { classifySlots, type SlotView } from '../checks/slots.js';
import { readNamedNamespaces } from '../host/named-namespaces.js';
import { commMatches, readProcessTable } from '../host/proc-table.js';
import { takeSnapshot } from '../host/snapshot.js';
import type { Logger } from '../sinks/log.js';
import { deleteNamespaces, SAFE_NETNS_NAME } from './delete-namespaces.js';
import { killOrphans } from './kill-orphans.js';
import type { FixedEntry } from './types.js';

export interface CleanupOptions {
  dryRun: boolean;
  killOrphans: boolean;
  killGraceMs: number;
  /** pause before the final re-verification, so a slot being set up right now shows its process */
  settleMs: number;
}

export interface CleanupResult {
  /** set when nothing was touched on purpose (an orchestrator runs) */
  refused?: string;
  fixed: FixedEntry[];
}

/**
 * The only code that changes the host. Leftovers (and, with killOrphans, orphaned VMMs) are re-verified right
 * before acting: still named the same, same inode, still owned, old enough, no process inside, no holder,
 * no fd on it, and still no orchestrator.
 */
export async function cleanup(config: HostConfig, opts: CleanupOptions, log: Logger): Promise<CleanupResult> {
  let facts = await takeSnapshot(config);
  let view = classifySlots(facts, config);
  if (view.orchestratorRunning) return { refused: refusal(view.orchestrators.map((p) => p.pid)), fixed: [] };
  const fixed: FixedEntry[] = [];
  if (opts.killOrphans && view.orphans.length > 0) {
    if (opts.dryRun) {
      for (const o of view.orphans) fixed.push({ netns: o.netns, action: 'would-kill', pid: o.pid, tap: o.tap });
    } else {
      const inodes = new Map(facts.namespaces.map((n) => [n.name, n.inode]));
      fixed.push(...(await killOrphans(view.orphans.map((o) => ({ orphan: o, netnsInode: inodes.get(o.netns)! })), opts.killGraceMs, log)));
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
  const { verified, skipped, orchestratorPids } = reverify(candidates, config);
  if (orchestratorPids.length > 0) return { refused: refusal(orchestratorPids), fixed };
  for (const s of skipped) {
    fixed.push(s);
    log.warn({ netns: s.netns, reason: s.reason }, `left ${s.netns} alone: ${s.reason}`);
  }
  const results = await deleteNamespaces(verified.map((s) => s.name));
  for (const s of verified) {
    const err = results.get(s.name);
    const tap = s.taps.find((t) => t.name === config.tap);
    const line = { netns: s.name, tap: config.tap, tapFlags: tap?.flags.join(',') ?? 'no-tap', ageSeconds: s.ageSeconds };
    if (err == null) {
      fixed.push({ netns: s.name, action: 'deleted' });
      log.info(line, `deleted leftover namespace ${s.name} (${config.tap} ${tap ? tap.flags.join(',') : 'absent'}, idle, ${s.ageSeconds}s old, no orchestrator)`);
    } else {
      fixed.push({ netns: s.name, action: 'failed', reason: err });
      log.error({ ...line, err }, `could not delete leftover namespace ${s.name}: ${err}`);
    }
  }
  return { fixed };
}

function refusal(pids: number[]): string {
  return `orchestrator is running (pid ${pids.join(',')}): its idle slots are its pool; nothing was touched`;
}

function reverify(candidates: SlotView[], config: HostConfig) {
  const now = Date.now();
  const named = new Map(readNamedNamespaces().map((n) => [n.name, n]));
  const procs = readProcessTable();
  const orchestratorPids = procs.filter((p) => commMatches(p.comm, config.orchestratorComm)).map((p) => p.pid);
  const verified: SlotView[] = [];
  const skipped: FixedEntry[] = [];
  for (const s of candidates) {
    const n = named.get(s.name);
    const inside = procs.filter((p) => p.netnsInode === s.inode || p.netnsFds.includes(s.inode));
    let reason: string | null = null;
    if (!n) reason = 'already gone';
    else if (n.inode !== s.inode) reason = 'name now points at another namespace';
    else if (!config.netnsPattern.test(s.name)) reason = 'no longer matches --netns-pattern';
    else if (!SAFE_NETNS_NAME.test(s.name)) reason = 'name has characters ip -batch cannot take';
    else if (now - n.createdAtMs < config.minAgeMs) reason = 'younger than --min-age';
    else if (inside.length > 0) reason = `in use by pid ${inside.map((p) => `${p.pid} (${p.comm})`).join(', ')}`;
    if (reason) skipped.push({ netns: s.name, action: 'skipped', reason });
    else verified.push(s);
  }
  return { verified, skipped, orchestratorPids };
}
