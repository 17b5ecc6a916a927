import type { TunDeviceFacts } from '../host/types.js';
import type { CheckResult } from './types.js';

const TUN_MAJOR = 10;
const TUN_MINOR = 200;

export function checkTunDevice(t: TunDeviceFacts): CheckResult {
  const details = { path: t.path, major: t.major, minor: t.minor, openError: t.openError ?? t.statError };
  const fail = (message: string): CheckResult => ({ id: 'tun-device', status: 'fail', message, details });
  if (!t.exists) {
    return fail(
      `${t.path} does not exist (${t.statError}): load the module with 'modprobe tun', or create the node with 'mkdir -p ${dirOf(t.path)} && mknod ${t.path} c 10 200'`,
    );
  }
  if (!t.isCharDevice) {
    return fail(`${t.path} is not a character device: remove it and run 'mknod ${t.path} c 10 200'`);
  }
  if (t.major !== TUN_MAJOR || t.minor !== TUN_MINOR) {
    return fail(`${t.path} is device ${t.major}:${t.minor}, not the tun device 10:200: remove it and run 'mknod ${t.path} c 10 200'`);
  }
  if (t.openError) {
    const fix =
      t.openError === 'EACCES' || t.openError === 'EPERM'
        ? `run as root or give the VMM's user access ('chmod 0666 ${t.path}')`
        : `load the tun module ('modprobe tun') and check the device cgroup allows c 10:200 rw`;
    return fail(`${t.path} cannot be opened read-write (${t.openError}): ${fix}`);
  }
  return { id: 'tun-device', status: 'pass', message: `${t.path} is the tun device (10:200) and opens read-write`, details };
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}
