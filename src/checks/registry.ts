import type { HostConfig } from '../config/host-config.js';
import type { LeakOptions } from '../config/leak-options.js';
import type { GateHostFacts } from '../host/gate-facts.js';
import { namespaceLimit } from '../host/kernel-limits.js';
import type { HostFacts } from '../host/types.js';
import { hostStateOf, type HostStateView } from './host-state.js';
import { checkGateVisibility, checkHostVisibility } from './host-visibility.js';
import { checkLeftoverHostRules } from './leftover-host-rules.js';
import { checkLeftoverTaps } from './leftover-taps.js';
import { linkWatcherCheck, type WatcherHealth } from './link-watcher.js';
import { checkNetnsCapacity, countNamespaces } from './netns-capacity.js';
import { checkSlotLeaks, type LeakSummary } from './slot-leaks.js';
import type { SlotsView } from './slots.js';
import { checkTunDevice } from './tun-device.js';
import { checkPressure, DEFAULT_PRESSURE } from './pressure.js';
import type { CheckResult } from './types.js';

/** What `vmgate check` judges: one snapshot of the host and the slots classified from it. */
export interface PrestartInput {
  facts: HostFacts;
  config: HostConfig;
  view: SlotsView;
}

/** What the gate judges at every evaluation: what has no events, re-read, and what the gate keeps. */
export interface GateInput {
  config: HostConfig;
  facts: GateHostFacts;
  ownedCount: number;
  watcher: WatcherHealth;
  leaks?: { summary: LeakSummary; opts: LeakOptions };
  hostState?: HostStateView | null;
  /** refusals by the kernel in the last minute and since when the xtables lock is held (the gate keeps both) */
  pressureWindow?: { recentRefusals: Partial<Record<'neigh4' | 'neigh6' | 'conntrack', number>>; lockHeldSinceMs: number | null };
}

/**
 * Every default check, registered once, with the judgement each phase runs: `prestart` for `vmgate check`, `gate`
 * for serve's host verdict. A check absent from a phase is not that phase's business (leftovers are the prestart's;
 * the link watcher and leak pressure exist only in serve). Opt-in host prerequisites (--extra-checks) follow the
 * default ones in both phases (checks/prerequisites.ts). `--ignore` accepts exactly these ids and those.
 */
export const CHECK_REGISTRY = [
  {
    id: 'tun-device',
    prestart: ({ facts }: PrestartInput) => checkTunDevice(facts.tun),
    gate: ({ facts }: GateInput) => checkTunDevice(facts.tun),
  },
  {
    id: 'netns-capacity',
    prestart: ({ facts, config }: PrestartInput) => checkNetnsCapacity(countNamespaces(facts), config),
    gate: ({ facts, config, ownedCount }: GateInput) => {
      const { limit, source } = namespaceLimit(config.maxNamespaces, facts.kernelLimit);
      return checkNetnsCapacity({ total: facts.namedCount, owned: ownedCount, limit, limitSource: source }, config);
    },
  },
  {
    id: 'link-watcher',
    gate: ({ watcher }: GateInput) => linkWatcherCheck(watcher),
  },
  {
    id: 'host-visibility',
    // prestart: can vmgate see every process (cleanup's safety); gate: is a wait's pid the host's (its PID namespace)
    prestart: ({ facts }: PrestartInput) => checkHostVisibility(facts),
    gate: ({ facts }: GateInput) => checkGateVisibility(facts.self, facts.notMounted),
  },
  {
    id: 'leftover-taps',
    prestart: ({ facts, config, view }: PrestartInput) => checkLeftoverTaps(view, config, hostStateOf(facts, config)?.unnamed.length ?? 0),
  },
  {
    id: 'host-pressure',
    prestart: ({ facts, config }: PrestartInput) =>
      facts.pressure
        ? checkPressure({ facts: facts.pressure, limits: config.pressure ?? DEFAULT_PRESSURE, recentRefusals: null, nowMs: facts.takenAtMs })
        : { id: 'host-pressure', status: 'unknown', message: "the kernel's shared tables were not read", details: {} },
    gate: ({ facts, config, pressureWindow }: GateInput) =>
      facts.pressure
        ? checkPressure({
            facts: facts.pressure,
            limits: config.pressure ?? DEFAULT_PRESSURE,
            recentRefusals: pressureWindow?.recentRefusals ?? {},
            lockHeldSinceMs: pressureWindow?.lockHeldSinceMs ?? null,
            nowMs: Date.now(),
          })
        : null,
  },
  {
    id: 'slot-leaks',
    gate: ({ leaks }: GateInput) => (leaks ? checkSlotLeaks(leaks.summary, leaks.opts) : null),
  },
  {
    id: 'leftover-host-rules',
    prestart: ({ facts, config, view }: PrestartInput) => checkLeftoverHostRules(hostStateOf(facts, config), view),
    // orphaned rules are judged like leaks in serve: reported, never a reason to refuse a VM (the prestart reclaims)
    gate: ({ config, hostState }: GateInput) =>
      !config.slotLayout
        ? null
        : hostState
          ? warnOnly(checkLeftoverHostRules(hostState, NO_ORCHESTRATOR_VIEW))
          : { id: 'leftover-host-rules', status: 'unknown', message: "the host's slot rules, routes and veths have not been read yet", details: {} },
  },
] as const satisfies readonly {
  id: string;
  prestart?: (i: PrestartInput) => CheckResult;
  gate?: (i: GateInput) => CheckResult | null;
}[];

export type CheckId = (typeof CHECK_REGISTRY)[number]['id'];

/** The ids `vmgate check` runs (and `--ignore` takes besides the opt-in ones). */
export const PRESTART_CHECK_IDS = CHECK_REGISTRY.filter((c) => 'prestart' in c).map((c) => c.id);

export function runPrestart(input: PrestartInput): CheckResult[] {
  const out: CheckResult[] = [];
  for (const c of CHECK_REGISTRY) if ('prestart' in c) out.push(c.prestart(input));
  return out;
}

export function runGate(input: GateInput): CheckResult[] {
  const out: CheckResult[] = [];
  for (const c of CHECK_REGISTRY) {
    if (!('gate' in c)) continue;
    const r = c.gate(input);
    if (r) out.push(r);
  }
  return out;
}

const NO_ORCHESTRATOR_VIEW: SlotsView = { takenAtMs: 0, blind: null, orchestratorRunning: false, orchestrators: [], slots: [], orphans: [] };

function warnOnly(r: CheckResult): CheckResult {
  if (r.status !== 'fail') return r;
  return {
    ...r,
    status: 'warn',
    message: r.message
      .replace(/^no orchestrator runs, yet /, '')
      .replace(/: run 'vmgate check --fix'.*$/, ": the next prestart 'vmgate check --fix' reclaims them"),
  };
}
