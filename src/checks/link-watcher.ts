import type { CheckResult } from './types.js';

/** What the gate knows of its link watcher (ip monitor): judged here like every other check. */
export interface WatcherHealth {
  healthy: boolean;
  message: string;
  /** slot namespaces without an nsid: no events arrive for them */
  unwatched?: string[];
}

/** link-watcher (gate only): fails while the watcher is down, warns for slots it cannot follow (no nsid). */
export function linkWatcherCheck(w: WatcherHealth): CheckResult {
  const unwatched = w.unwatched ?? [];
  if (!w.healthy) return { id: 'link-watcher', status: 'fail', message: w.message, details: { unwatched } };
  if (unwatched.length > 0) {
    const names = unwatched.slice(0, 5).join(', ') + (unwatched.length > 5 ? `, and ${unwatched.length - 5} more` : '');
    return {
      id: 'link-watcher',
      status: 'warn',
      message: `${w.message}; ${unwatched.length} slot namespaces have no nsid and cannot be followed (${names}): 'ip netns set NAME auto' failed for them; their waits answer netns-unwatched`,
      details: { unwatched },
    };
  }
  return { id: 'link-watcher', status: 'pass', message: w.message, details: {} };
}
