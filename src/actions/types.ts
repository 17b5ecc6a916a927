export interface FixedEntry {
  netns: string;
  /** deleted, killed, would-delete, would-kill, skipped, failed */
  action: string;
  pid?: number;
  tap?: string;
  reason?: string;
}
