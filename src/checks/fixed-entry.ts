/** What a fix did to one slot: reported by cleanup (actions/), printed and logged by sinks/. */
export interface FixedEntry {
  netns: string;
  action: 'deleted' | 'killed' | 'would-delete' | 'would-kill' | 'skipped' | 'failed';
  pid?: number;
  tap?: string;
  reason?: string;
}
