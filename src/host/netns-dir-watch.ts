import { watch, type FSWatcher } from 'node:fs';
import { NETNS_DIR } from './named-namespaces.js';

/**
 * Namespace creation is not a netlink event: watch /run/netns (inotify) for names appearing and vanishing.
 * Calls onChange, coalesced, after a burst of changes settles.
 */
export function watchNetnsDir(onChange: () => void, dir = NETNS_DIR, settleMs = 10): FSWatcher {
  let timer: NodeJS.Timeout | null = null;
  const w = watch(dir, { persistent: false }, () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      onChange();
    }, settleMs);
  });
  return w;
}
