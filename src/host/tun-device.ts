import { closeSync, constants, openSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { TunDeviceFacts } from './types.js';

/** Linux encodes dev_t as glibc's gnu_dev_major/minor do. */
export function devMajor(rdev: number): number {
  return Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
}
export function devMinor(rdev: number): number {
  return Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);
}

/** What a stat of the path says (null: it could not be stat'ed, the facts say why). */
function fromStat(path: string, st: Stats | NodeJS.ErrnoException): TunDeviceFacts {
  const facts: TunDeviceFacts = { path, exists: false, isCharDevice: false, major: null, minor: null, openError: null, statError: null };
  if (st instanceof Error) {
    facts.statError = st.code ?? String(st);
    return facts;
  }
  facts.exists = true;
  facts.isCharDevice = st.isCharacterDevice();
  if (facts.isCharDevice) {
    facts.major = devMajor(st.rdev);
    facts.minor = devMinor(st.rdev);
  }
  return facts;
}

// O_NONBLOCK: a FIFO or odd file at this path must not hang the check
const OPEN_FLAGS = constants.O_RDWR | constants.O_NONBLOCK;
const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

export function readTunDevice(path: string): TunDeviceFacts {
  let st: Stats | NodeJS.ErrnoException;
  try {
    st = statSync(path);
  } catch (err) {
    st = err as NodeJS.ErrnoException;
  }
  const facts = fromStat(path, st);
  if (!facts.exists) return facts;
  try {
    closeSync(openSync(path, OPEN_FLAGS));
  } catch (err) {
    facts.openError = code(err);
  }
  return facts;
}

/**
 * The same through the thread pool (serve, at every evaluation): closing a tun fd takes the kernel's rtnl lock, which
 * a burst of namespace deletions holds for long stretches; a synchronous close held serve's event loop meanwhile.
 */
export async function readTunDeviceAsync(path: string): Promise<TunDeviceFacts> {
  const facts = fromStat(path, await stat(path).catch((err: NodeJS.ErrnoException) => err));
  if (!facts.exists) return facts;
  try {
    await (await open(path, OPEN_FLAGS)).close();
  } catch (err) {
    facts.openError = code(err);
  }
  return facts;
}
