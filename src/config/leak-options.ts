import { durationOption, str, wholeNumberOption } from './host-config.js';
import type { OptionSpec, OptionsOf } from './options.js';
import { UsageError } from './usage-error.js';

/** How serve tells a slot the orchestrator forgot from one waiting in its pool (docs/gate.md: Leak pressure). */
export interface LeakOptions {
  /** idle continuously this long while the orchestrator runs: a suspected leak */
  ageMs: number;
  /** slot-leaks warns from this many suspected leaks */
  warn: number;
  /** slot-leaks fails (503) from this many; null: never */
  fail: number | null;
  /** this many of the youngest idle slots that never held a VMM are the orchestrator's pool of new slots, never suspected */
  pool: number;
}

export const LEAK_OPTIONS = [
  { name: 'leak-age', kind: 'string', default: '10m', help: 'a slot idle this long while the orchestrator runs is a suspected leak' },
  { name: 'leak-warn', kind: 'string', default: '10', help: 'slot-leaks warns (never blocks) from this many suspected leaks' },
  { name: 'leak-fail', kind: 'string', default: 'off', help: 'slot-leaks fails (503) from this many suspected leaks, or off' },
  {
    name: 'leak-pool',
    kind: 'string',
    default: '32',
    help: "the youngest idle slots that never held a VMM, up to this many, are the orchestrator's new-slot pool and never suspected",
  },
] as const satisfies readonly OptionSpec[];

export function leakOptions(o: OptionsOf<typeof LEAK_OPTIONS>): LeakOptions {
  const ageMs = durationOption(o, 'leak-age');
  if (ageMs < 1000) throw new UsageError(`--leak-age '${str(o, 'leak-age')}' must be at least 1s`);
  const fail = str(o, 'leak-fail') === 'off' ? null : wholeNumberOption(o, 'leak-fail', 1, " or 'off'");
  return { ageMs, warn: wholeNumberOption(o, 'leak-warn', 1), fail, pool: wholeNumberOption(o, 'leak-pool', 0) };
}
