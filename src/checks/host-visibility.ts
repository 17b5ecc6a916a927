import type { HostFacts } from '../host/types.js';
import { INIT_PID_NS_INODE, type SelfFacts } from '../host/visibility.js';
import type { CheckResult } from './types.js';

const HOW =
  'run vmgate in the host\'s PID namespace as root with CAP_SYS_PTRACE (Nomad: the raw_exec driver; docker/exec: pid_mode = "host" and cap_add = ["SYS_PTRACE"]) and mount /run/netns with rshared propagation';

/**
 * Can vmgate see enough to call a slot unused? Its own PID namespace is the host's, it may read every process's
 * ns/net and fds, and every name in /run/netns is a namespace mount where it runs. Cleanup refuses when this fails.
 */
export function checkHostVisibility(facts: HostFacts): CheckResult {
  const v = facts.visibility;
  // a symlink is not a lost mount: it is reported on its own slot (unknown, never followed), not as blindness
  const notNamespaces = facts.namespaces.filter((n) => !n.nsfs && !n.symlink).map((n) => n.name);
  const details = {
    pidNamespace: v.pidNamespaceInode,
    capSysPtrace: v.capSysPtrace,
    unreadable: v.unreadable.slice(0, 20),
    unreadableCount: v.unreadable.length,
    notNamespaces: notNamespaces.slice(0, 20),
    errors: v.errors,
  };
  const problems: string[] = [];
  if (v.pidNamespaceInode !== INIT_PID_NS_INODE) {
    problems.push(
      `vmgate runs in its own PID namespace (pid:[${v.pidNamespaceInode ?? '?'}], the host's is pid:[${INIT_PID_NS_INODE}]) and cannot see the host's processes`,
    );
  }
  const sample = v.unreadable
    .slice(0, 3)
    .map((p) => `pid ${p.pid} ${p.comm}: ${p.what}`)
    .join(', ');
  if (v.unreadable.length > 0 && v.capSysPtrace !== true) {
    problems.push(`${v.unreadable.length} processes could not be read (${sample}): vmgate lacks CAP_SYS_PTRACE`);
  }
  if (notNamespaces.length > 0) {
    problems.push(
      `${notNamespaces.length} names in /run/netns are not namespace mounts here (${notNamespaces.slice(0, 3).join(', ')}): the mounts did not propagate into vmgate's mount namespace`,
    );
  }
  problems.push(...v.errors);
  if (problems.length > 0) {
    return {
      id: 'host-visibility',
      status: 'fail',
      message: `vmgate cannot see the whole host, so no slot can be called unused and cleanup refuses: ${problems.join('; ')}: ${HOW}`,
      details,
    };
  }
  if (v.unreadable.length > 0) {
    return {
      id: 'host-visibility',
      status: 'warn',
      message: `${v.unreadable.length} processes could not be read even with CAP_SYS_PTRACE (${sample}): every slot with the same interfaces as their namespace counts as unknown and is left alone; a slot such a process holds only through an fd would not be seen`,
      details,
    };
  }
  if (v.capSysPtrace === false) {
    return {
      id: 'host-visibility',
      status: 'warn',
      message: `every process could be read now, but vmgate lacks CAP_SYS_PTRACE: a process of another user would be unreadable (its slots then count as unknown): ${HOW}`,
      details,
    };
  }
  return {
    id: 'host-visibility',
    status: 'pass',
    message: `vmgate sees the host: initial PID namespace, every process readable, every name in /run/netns a namespace mount`,
    details,
  };
}

/**
 * The gate's view: its answers come from netlink, not /proc, so only what breaks them fails. In its own PID
 * namespace a `pid` parameter names another process (vmm-exited would be wrong): fail. Without CAP_SYS_PTRACE
 * `holders` may miss processes, and names that are not namespace mounts get no events: warn.
 */
export function checkGateVisibility(self: SelfFacts, notNamespaces: string[]): CheckResult {
  const details = { pidNamespace: self.pidNamespaceInode, capSysPtrace: self.capSysPtrace, notNamespaces: notNamespaces.slice(0, 20) };
  if (self.pidNamespaceInode !== INIT_PID_NS_INODE) {
    return {
      id: 'host-visibility',
      status: 'fail',
      message: `vmgate runs in its own PID namespace: a slot wait's pid would name another process: ${HOW}`,
      details,
    };
  }
  const warnings: string[] = [];
  if (self.capSysPtrace === false) warnings.push("vmgate lacks CAP_SYS_PTRACE: 'holders' may miss other users' processes");
  if (notNamespaces.length > 0)
    warnings.push(
      `${notNamespaces.length} names in /run/netns are not namespace mounts here (${notNamespaces.slice(0, 3).join(', ')}): their links cannot be followed`,
    );
  if (warnings.length > 0) return { id: 'host-visibility', status: 'warn', message: `${warnings.join('; ')}: ${HOW}`, details };
  return {
    id: 'host-visibility',
    status: 'pass',
    message: 'vmgate runs in the initial PID namespace with CAP_SYS_PTRACE; every name in /run/netns is a namespace mount',
    details,
  };
}
