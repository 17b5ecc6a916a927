import { IFNAME } from './ifname.js';
import type { HostOptions } from './options.js';
import { UsageError } from './usage-error.js';

/**
 * What the orchestrator makes on the host for slot N besides its namespace (E2B datapath v1 by default; the anatomy
 * is in docs/slots.md): a host veth, an address pair from the veth CIDR, a host IP from the host CIDR, 9 firewall
 * rules naming the veth, the gateway interface and the host IP.
 */
export interface SlotLayout {
  /** host-side veth name, {N} standing for the slot index */
  hostVeth: string;
  vethCidr: Cidr;
  hostCidr: Cidr;
  /** the interface of the rules' `-o`/`-i` to the outside; null: the host's first default route with a gateway */
  gateway: string | null;
}

export interface Cidr {
  base: number;
  bits: number;
  text: string;
}

function str(o: HostOptions, name: keyof HostOptions): string {
  const v = o[name];
  return typeof v === 'string' ? v : '';
}

export function parseCidr(flag: string, text: string): Cidr {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const bits = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || bits > 30) throw new UsageError(`--${flag} '${text}' is not an IPv4 CIDR like 10.12.0.0/16 (prefix at most /30)`);
  const ip = ipToInt(octets);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, bits, text: text.trim() };
}

export function slotLayout(o: HostOptions): SlotLayout | null {
  const kind = str(o, 'slot-layout');
  if (kind === 'none') return null;
  if (kind !== 'e2b-v1') throw new UsageError(`--slot-layout '${kind}' must be e2b-v1 or none`);
  const hostVeth = str(o, 'host-veth');
  if (hostVeth.split('{N}').length !== 2 || !IFNAME.test(hostVeth.replace('{N}', '32766')))
    throw new UsageError(`--host-veth '${hostVeth}' must contain {N} once and make interface names (1 to 15 of A-Z a-z 0-9 . _ -)`);
  const gateway = str(o, 'gateway-iface');
  if (gateway !== '' && !IFNAME.test(gateway)) throw new UsageError(`--gateway-iface '${gateway}' is not an interface name`);
  return { hostVeth, vethCidr: parseCidr('veth-cidr', str(o, 'veth-cidr')), hostCidr: parseCidr('host-cidr', str(o, 'host-cidr')), gateway: gateway || null };
}

/**
 * A slot's index from its namespace name: the pattern's first capture group when it has one, else the digits at
 * the end of the name (`ns-42` -> 42). null: the name carries no index (it has no host parts vmgate can name).
 */
export function slotIndex(name: string, pattern: RegExp): number | null {
  const m = pattern.exec(name);
  const text = m?.[1] ?? /(\d+)$/.exec(name)?.[1];
  if (text === undefined || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

export function hostVethName(l: SlotLayout, n: number): string {
  return l.hostVeth.replace('{N}', String(n));
}

/** The index a host veth name stands for, or null when the name is not the layout's. */
export function vethIndex(l: SlotLayout, name: string): number | null {
  const [pre, post] = l.hostVeth.split('{N}') as [string, string];
  if (!name.startsWith(pre) || !name.endsWith(post) || name.length <= pre.length + post.length) return null;
  const digits = name.slice(pre.length, name.length - post.length);
  return /^(0|[1-9]\d*)$/.test(digits) ? Number(digits) : null;
}

/** Slot N's host IP (address N of the host CIDR), or null when N is outside it. */
export function hostIp(l: SlotLayout, n: number): string | null {
  return n >= 0 && n < 2 ** (32 - l.hostCidr.bits) ? intToIp(l.hostCidr.base + n) : null;
}

/** The slot index a host IP stands for, or null. */
export function hostIpIndex(l: SlotLayout, ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const n = ipToInt(m.slice(1, 5).map(Number)) - l.hostCidr.base;
  return n >= 0 && n < 2 ** (32 - l.hostCidr.bits) ? n : null;
}

function ipToInt(o: number[]): number {
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

function intToIp(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}
