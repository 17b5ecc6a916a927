import { readFileSync } from 'node:fs';

/** /proc/sys/user/max_net_namespaces: namespaces per user namespace; creation past it fails ENOSPC. */
export function readMaxNetNamespaces(path = '/proc/sys/user/max_net_namespaces'): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}
