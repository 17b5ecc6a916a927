import { readFileSync } from 'node:fs';

/** A whole number from a /proc/sys (or /sys) file; null when it cannot be read or is not one. */
export function readSysctlNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

/** /proc/sys/user/max_net_namespaces: namespaces per user namespace; creation past it fails ENOSPC. */
export function readMaxNetNamespaces(path = '/proc/sys/user/max_net_namespaces'): number | null {
  return readSysctlNumber(path);
}

/** The namespace limit that applies: --max-namespaces when given, else the kernel's, else unknown. */
export function namespaceLimit(configured: number | null, kernel: number | null): { limit: number | null; source: 'flag' | 'kernel' | 'unknown' } {
  if (configured !== null) return { limit: configured, source: 'flag' };
  return kernel !== null ? { limit: kernel, source: 'kernel' } : { limit: null, source: 'unknown' };
}
