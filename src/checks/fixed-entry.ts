/** What a fix did to one slot: reported by cleanup (actions/), printed and logged by sinks/. */
export interface FixedEntry {
  netns: string;
  action: 'deleted' | 'killed' | 'would-delete' | 'would-kill' | 'skipped' | 'failed';
  pid?: number;
  tap?: string;
  reason?: string;
}

/** What reclaim did to one slot's host state. */
/** Reported by cleanup (actions/reclaim-host-state.ts), printed by sinks/. */
export interface HostFixedEntry {
  slot: number;
  veth: string;
  action: 'deleted' | 'would-delete' | 'deduplicated' | 'would-deduplicate' | 'skipped' | 'failed';
  rules: number;
  routes: number;
  reason?: string;
}
