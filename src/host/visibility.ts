import { readFileSync, readlinkSync } from 'node:fs';

/** PROC_PID_INIT_INO: the initial PID namespace's fixed inode. */
export const INIT_PID_NS_INODE = 4026531836;
const CAP_SYS_PTRACE = 19n;

export interface SelfFacts {
  /** /proc/self/ns/pid's inode, null if unreadable */
  pidNamespaceInode: number | null;
  /** CAP_SYS_PTRACE in the effective set (reading other users' ns/net and fds needs it); null if unreadable */
  capSysPtrace: boolean | null;
}

/** Where vmgate itself stands: can it, in principle, see every process of the host? */
export function readSelfFacts(procDir = '/proc'): SelfFacts {
  let pidNamespaceInode: number | null = null;
  try {
    const m = /^pid:\[(\d+)\]$/.exec(readlinkSync(`${procDir}/self/ns/pid`));
    if (m) pidNamespaceInode = Number(m[1]);
  } catch {
    /* unreadable: reported as unknown */
  }
  let capSysPtrace: boolean | null = null;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`${procDir}/self/status`, 'utf8'));
    if (m) capSysPtrace = ((BigInt(`0x${m[1]}`) >> CAP_SYS_PTRACE) & 1n) === 1n;
  } catch {
    /* unreadable */
  }
  return { pidNamespaceInode, capSysPtrace };
}
