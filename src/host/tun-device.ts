import { closeSync, constants, openSync, statSync } from 'node:fs';
import type { TunDeviceFacts } from './types.js';

/** Linux encodes dev_t as glibc's gnu_dev_major/minor do. */
export function devMajor(rdev: number): number {
  return Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
}
export function devMinor(rdev: number): number {
  return Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);
}

export function readTunDevice(path: string): TunDeviceFacts {
  const facts: TunDeviceFacts = { path, exists: false, isCharDevice: false, major: null, minor: null, openError: null, statError: null };
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    facts.statError = (err as NodeJS.ErrnoException).code ?? String(err);
    return facts;
  }
  facts.exists = true;
  facts.isCharDevice = st.isCharacterDevice();
  if (facts.isCharDevice) {
    facts.major = devMajor(st.rdev);
    facts.minor = devMinor(st.rdev);
  }
  try {
    // O_NONBLOCK: a FIFO or odd file at this path must not hang the check
    closeSync(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
  } catch (err) {
    facts.openError = (err as NodeJS.ErrnoException).code ?? String(err);
  }
  return facts;
}
