import { parseExtraChecks, type ExtraCheckId } from './extra-checks.js';
import { parseDuration } from './duration.js';
import type { HostOptions } from './options.js';
import { UsageError } from './usage-error.js';
import { slotLayout, type SlotLayout } from './slot-layout.js';

export interface HostConfig {
  netnsPattern: RegExp;
  tap: string;
  minAgeMs: number;
  /** null: read the kernel's limit at each look. */
  maxNamespaces: number | null;
  capacityWarn: number;
  orchestratorComm: string;
  tunPath: string;
  /** host prerequisites beyond the default checks (--extra-checks; check and serve) */
  extraChecks?: ExtraCheckId[];
  /** what a slot puts on the host besides its namespace; null: namespace only (--slot-layout none) */
  slotLayout?: SlotLayout | null;
  /** host-pressure warns from this fraction of a kernel table's limit, fails from that one */
  pressure?: { warn: number; fail: number };
}

import { IFNAME } from './ifname.js';
export { IFNAME };
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** A string flag's value ('' when not given); `name` must be one of the command's flags (a typo does not compile). */
export function str<O extends object>(o: O, name: keyof O & string): string {
  const v = (o as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

export function durationOption<O extends object>(o: O, name: keyof O & string): number {
  const ms = parseDuration(str(o, name));
  if (ms === null) throw new UsageError(`--${name} '${str(o, name)}' is not a duration (examples: 500ms, 30s, 5m)`);
  return ms;
}

/** A whole-number flag of at least `min`; `or` names what else it takes (e.g. " or 'off'"). */
export function wholeNumberOption<O extends object>(o: O, name: keyof O & string, min: number, or = ''): number {
  const text = str(o, name);
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} '${text}' must be a whole number >= ${min}${or}`);
  return n;
}

export function hostConfig(o: HostOptions): HostConfig {
  let netnsPattern: RegExp;
  // an empty pattern matches every namespace on the host: never what an operator means
  if (str(o, 'netns-pattern').trim() === '') throw new UsageError('--netns-pattern must not be empty (it would match every namespace on the host)');
  try {
    netnsPattern = new RegExp(str(o, 'netns-pattern'));
  } catch (err) {
    throw new UsageError(`--netns-pattern is not a valid regular expression: ${(err as Error).message}`);
  }
  const tap = str(o, 'tap');
  if (!IFNAME.test(tap)) throw new UsageError(`--tap '${tap}' is not an interface name (1 to 15 of A-Z a-z 0-9 . _ -)`);
  let maxNamespaces: number | null = null;
  if (o['max-namespaces'] !== undefined) {
    maxNamespaces = Number(str(o, 'max-namespaces'));
    if (!Number.isInteger(maxNamespaces) || maxNamespaces < 1) {
      throw new UsageError(`--max-namespaces '${str(o, 'max-namespaces')}' must be a whole number >= 1`);
    }
  }
  const capacityWarn = Number(str(o, 'capacity-warn'));
  if (!(capacityWarn > 0 && capacityWarn <= 1)) {
    throw new UsageError(`--capacity-warn '${str(o, 'capacity-warn')}' must be a fraction in (0, 1]`);
  }
  const orchestratorComm = str(o, 'orchestrator-comm');
  if (orchestratorComm === '') throw new UsageError('--orchestrator-comm must not be empty');
  const tunPath = str(o, 'tun-path');
  if (tunPath === '') throw new UsageError('--tun-path must not be empty');
  return {
    netnsPattern,
    tap,
    minAgeMs: durationOption(o, 'min-age'),
    maxNamespaces,
    capacityWarn,
    orchestratorComm,
    tunPath,
    extraChecks: 'extra-checks' in o && typeof o['extra-checks'] === 'string' ? parseExtraChecks(o['extra-checks']) : [],
    slotLayout: slotLayout(o),
    pressure: pressureLimits(o),
  };
}

function pressureLimits(o: HostOptions): { warn: number; fail: number } {
  const warn = Number(str(o, 'pressure-warn'));
  const fail = Number(str(o, 'pressure-fail'));
  if (!(warn > 0 && warn <= 1)) throw new UsageError(`--pressure-warn '${str(o, 'pressure-warn')}' must be a fraction in (0, 1]`);
  if (!(fail > 0 && fail <= 1) || fail < warn)
    throw new UsageError(`--pressure-fail '${str(o, 'pressure-fail')}' must be a fraction in (0, 1], at least --pressure-warn`);
  return { warn, fail };
}

export interface LogConfig {
  level: string;
  format: 'json' | 'pretty';
}

export function logConfig(o: Pick<HostOptions, 'log-level' | 'log-format'>): LogConfig {
  const level = str(o, 'log-level');
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level '${level}' must be one of ${LEVELS.join(', ')}`);
  const format = str(o, 'log-format');
  if (format !== 'json' && format !== 'pretty') throw new UsageError(`--log-format '${format}' must be json or pretty`);
  return { level, format };
}
