import type { LeakSummary } from '../checks/slot-leaks.js';
import type { HostVerdict } from './host-verdict.js';
import type { ProcessRef, TapHolder } from '../host/types.js';
import type { WaitAnswer } from './wait-answer.js';

/**
 * What the gate tells its sinks, typed: renaming an event or changing its payload fails the type check of every
 * sink (sinks/gate-log.ts, sinks/metrics.ts, sinks/diagnose-sink.ts, cli/commands/serve.ts).
 */
export type WatcherEvent = 'down' | 'restarted' | 'restart-failed' | 'start-failed' | 'refresh-failed' | 'evaluate-failed' | 'overflow' | 'host-state-failed';

/** What leak tracking noticed about one slot. */
export type LeakNotice =
  | { kind: 'suspected'; leak: LeakEvent }
  | { kind: 'in-use'; netns: string; idleSeconds: number }
  | { kind: 'idle-ended'; seconds: number }
  | { kind: 'tap-busy'; busy: TapBusyEvent };

export interface GateEvents {
  /** the host verdict changed in what the outside sees (readiness, failing or warning checks) */
  verdict: [now: HostVerdict, before: HostVerdict];
  /** the link watcher went down, restarted, lost events, or a background read failed */
  watcher: [event: WatcherEvent, detail: string];
  /** a slot wait was answered */
  finished: [answer: WaitAnswer];
  leak: [notice: LeakNotice];
}

export interface LeakTrackerEvents {
  suspected: [leak: LeakEvent];
  'in-use': [netns: string, idleSeconds: number];
  'idle-ended': [seconds: number];
  'tap-busy': [busy: TapBusyEvent];
  summary: [summary: LeakSummary];
}

export interface SlotWaitsEvents {
  finished: [answer: WaitAnswer];
}

/** One suspected leak, for the warn line. */
export interface LeakEvent {
  netns: string;
  tap: string;
  tapState: string;
  idleSeconds: number;
  lastHolder: ProcessRef | null;
  orchestrators: number[];
}

export interface TapBusyEvent {
  netns: string;
  tap: string;
  holders: TapHolder[];
}
