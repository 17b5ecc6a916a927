import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

export interface OptionSpec {
  readonly name: string;
  readonly kind: 'string' | 'boolean';
  readonly default?: string;
  readonly help: string;
}

/**
 * A command's parsed flags, typed from its option table: a flag's value is a boolean or a string (undefined when a
 * string flag without default is not given). A misspelled flag name is a compile error.
 */
export type OptionsOf<S extends readonly OptionSpec[]> = {
  readonly [P in S[number] as P['name']]: P['kind'] extends 'boolean' ? boolean : P extends { default: string } ? string : string | undefined;
};

/** What a slot puts on the host besides its namespace (config/slot-layout.ts). */
export const SLOT_LAYOUT_OPTIONS = [
  {
    name: 'slot-layout',
    kind: 'string',
    default: 'e2b-v1',
    help: 'what a slot puts on the host: e2b-v1 (veth, route, 9 iptables rules) or none (namespace only)',
  },
  { name: 'host-veth', kind: 'string', default: 'veth-{N}', help: 'host-side veth name of slot N' },
  { name: 'veth-cidr', kind: 'string', default: '10.12.0.0/16', help: 'slot N gets the /31 at 2N of it (host veth, namespace eth0)' },
  { name: 'host-cidr', kind: 'string', default: '10.11.0.0/16', help: "slot N's host IP is address N of it" },
  {
    name: 'gateway-iface',
    kind: 'string',
    default: '',
    help: "the interface slot rules forward and masquerade to (default: the first default route's, as the orchestrator takes it)",
  },
] as const satisfies readonly OptionSpec[];

export const TAP_OPTION = { name: 'tap', kind: 'string', default: 'tap0', help: "the tap's name inside each slot namespace" } as const satisfies OptionSpec;

/** Every command logs. */
export const LOG_OPTIONS = [
  { name: 'log-level', kind: 'string', default: 'info', help: 'trace, debug, info, warn, error, fatal or silent' },
  { name: 'log-format', kind: 'string', default: 'json', help: 'json (one line per event on stderr) or pretty' },
] as const satisfies readonly OptionSpec[];

/** Flags shared by every command that looks at the host. */
export const HOST_OPTIONS = [
  { name: 'netns-pattern', kind: 'string', default: '^ns-\\d+$', help: 'regular expression: which named namespaces belong to the orchestrator' },
  TAP_OPTION,
  { name: 'min-age', kind: 'string', default: '30s', help: 'a namespace younger than this is starting, never a leftover' },
  { name: 'max-namespaces', kind: 'string', help: 'namespace limit (default: /proc/sys/user/max_net_namespaces)' },
  { name: 'capacity-warn', kind: 'string', default: '0.8', help: 'warn when namespaces reach this fraction of the limit' },
  { name: 'orchestrator-comm', kind: 'string', default: 'orchestrator', help: 'process name (comm) of the orchestrator' },
  { name: 'tun-path', kind: 'string', default: '/dev/net/tun', help: 'the tun device to verify' },
  { name: 'pressure-warn', kind: 'string', default: '0.8', help: "host-pressure warns from this fraction of a kernel table's limit" },
  {
    name: 'pressure-fail',
    kind: 'string',
    default: '0.95',
    help: 'host-pressure fails from this fraction (and on refusals the kernel made in the last minute)',
  },
  ...SLOT_LAYOUT_OPTIONS,
  ...LOG_OPTIONS,
] as const satisfies readonly OptionSpec[];

export type HostOptions = OptionsOf<typeof HOST_OPTIONS>;

/** Untyped, inside the parser only; commands get OptionsOf their table. */
export type ParsedOptions = Record<string, string | boolean | undefined>;

export function envName(flag: string): string {
  return `VMGATE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function parseBoolean(name: string, text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off|)$/i.test(text)) return false;
  throw new UsageError(`${envName(name)}=${JSON.stringify(text)} is not a boolean (use true or false)`);
}

/** Flag wins over VMGATE_<NAME>, which wins over the default. Unknown flags and stray arguments are usage errors. */
export function parseOptions<S extends readonly OptionSpec[]>(command: string, argv: string[], specs: S, env: NodeJS.ProcessEnv = process.env): OptionsOf<S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const s of specs) options[s.name] = { type: s.kind };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${command}: ${msg}`);
  }
  if (positionals.length > 0) throw new UsageError(`${command}: unexpected argument '${positionals[0]}'`);
  const out: ParsedOptions = {};
  for (const s of specs) {
    const fromFlag = values[s.name];
    const fromEnv = env[envName(s.name)];
    if (fromFlag !== undefined) {
      out[s.name] = fromFlag;
    } else if (fromEnv !== undefined) {
      out[s.name] = s.kind === 'boolean' ? parseBoolean(s.name, fromEnv) : fromEnv;
    } else {
      out[s.name] = s.kind === 'boolean' ? false : s.default;
    }
  }
  return out as OptionsOf<S>;
}

export function helpText(command: string, synopsis: string, specs: readonly OptionSpec[]): string {
  const lines = [`usage: vmgate ${command} ${synopsis}`.trimEnd(), '', 'options (each also as VMGATE_<NAME>; the flag wins):'];
  for (const s of specs) {
    const flag = s.kind === 'string' ? `--${s.name} VALUE` : `--${s.name}`;
    const def = s.default !== undefined ? ` (default ${s.default})` : '';
    lines.push(`  ${flag.padEnd(28)} ${s.help}${def}`);
  }
  return lines.join('\n');
}
