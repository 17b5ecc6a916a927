import { existsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { NETNS_DIR } from './named-namespaces.js';

/**
 * Namespace creation is not a netlink event: watch /run/netns (inotify) for names appearing and vanishing, and
 * call onChange, coalesced, after a burst settles. On a fresh host /run/netns does not exist until the first
 * `ip netns add`: then the parent is watched until it appears; if it is deleted, the same again. Never throws.
 */
export class NetnsDirWatch {
  private dirWatcher: FSWatcher | null = null;
  private parentWatcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    /** the names inotify reported since the last call; null when the whole directory must be looked at */
    private readonly onChange: (names: Set<string> | null) => void,
    private readonly dir = NETNS_DIR,
    private readonly settleMs = 10,
  ) {
    this.arm();
  }

  /** what is being watched right now (for the link-watcher message and tests) */
  get watching(): 'dir' | 'parent' | 'poll' | 'none' {
    return this.dirWatcher ? 'dir' : this.parentWatcher ? 'parent' : this.poll ? 'poll' : 'none';
  }

  private names: Set<string> | null = new Set();

  private changed(name?: string | null): void {
    if (this.closed) return;
    if (name === undefined || name === null || this.names === null) this.names = null;
    else this.names.add(name);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const names = this.names;
      this.names = new Set();
      if (!this.closed) this.onChange(names);
    }, this.settleMs);
  }

  private arm(): void {
    if (this.closed) return;
    this.stopWatchers();
    try {
      const w = watch(this.dir, { persistent: false }, (_event, file) => {
        // the directory itself was removed (or replaced): fall back to its parent
        if (!existsSync(this.dir)) {
          this.arm();
          return this.changed(null);
        }
        this.changed(file);
      });
      w.on('error', () => this.arm());
      this.dirWatcher = w;
      return;
    } catch {
      /* not there yet */
    }
    try {
      const name = basename(this.dir);
      const w = watch(dirname(this.dir), { persistent: false }, (_event, file) => {
        if ((file === null || file === name) && existsSync(this.dir)) {
          this.arm();
          this.changed();
        }
      });
      w.on('error', () => this.startPoll());
      this.parentWatcher = w;
      // created between the failed watch and this one
      if (existsSync(this.dir)) {
        this.arm();
        this.changed();
      }
    } catch {
      this.startPoll();
    }
  }

  private startPoll(): void {
    this.stopWatchers();
    this.poll = setInterval(() => {
      if (existsSync(this.dir)) {
        this.arm();
        this.changed();
      }
    }, 1000);
    this.poll.unref();
  }

  private stopWatchers(): void {
    this.dirWatcher?.close();
    this.parentWatcher?.close();
    if (this.poll) clearInterval(this.poll);
    this.dirWatcher = this.parentWatcher = this.poll = null;
  }

  close(): void {
    this.closed = true;
    this.stopWatchers();
    if (this.timer) clearTimeout(this.timer);
  }
}
