import { CHECK_IDS } from '../checks/run-checks.js';
import { EXTRA_CHECK_IDS } from '../config/extra-checks.js';
import { DEFAULT_GUEST } from '../config/guest.js';
import { LEAK_OPTIONS } from '../config/leak-options.js';
import { HOST_OPTIONS, type OptionSpec, type ParsedOptions } from '../config/options.js';
import { JSON_OPTION } from './command.js';

/** What a command is, without what it needs to run: help and flag parsing load nothing else (cold start). */
export interface CommandSpec {
  name: string;
  synopsis: string;
  summary: string;
  options: OptionSpec[];
  /** the command's code, imported only when it runs */
  load(): Promise<{ run(options: ParsedOptions): Promise<number> }>;
}

const EXTRA_CHECKS_OPTION: OptionSpec = {
  name: 'extra-checks',
  kind: 'string',
  default: '',
  help: `host prerequisites to check besides the default ones (${EXTRA_CHECK_IDS.join(', ')}, or all)`,
};

const FIX_OPTIONS: OptionSpec[] = [
  { name: 'kill-orphans', kind: 'boolean', help: 'also end orphaned VMMs (SIGTERM, then SIGKILL after --kill-grace) before reclaiming their namespaces' },
  { name: 'kill-grace', kind: 'string', default: '5s', help: 'time between SIGTERM and SIGKILL for --kill-orphans' },
  { name: 'dedupe-rules', kind: 'boolean', help: "also delete extra copies of live slots' firewall rules, leaving exactly one of each" },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'check',
    synopsis: '[--fix [--kill-orphans]] [--ignore ID,...] [--json]',
    summary: 'prestart: verify the tun device, namespace capacity, what vmgate can see, and leftovers; --fix reclaims leftovers',
    options: [
      ...HOST_OPTIONS,
      { name: 'fix', kind: 'boolean', help: 'delete leftover slot namespaces (re-verified first), then check again' },
      ...FIX_OPTIONS,
      {
        name: 'nomad-meta',
        kind: 'boolean',
        help: 'publish the verdict as Nomad node metadata vmgate_preflight / vmgate_preflight_reason, only when it changes (never fails the check)',
      },
      {
        name: 'ignore',
        kind: 'string',
        default: '',
        help: `demote these checks' failures to warnings (${[...CHECK_IDS, ...EXTRA_CHECK_IDS].join(', ')}, all)`,
      },
      EXTRA_CHECKS_OPTION,
      JSON_OPTION,
    ],
    load: () => import('./commands/check.js'),
  },
  {
    name: 'inventory',
    synopsis: '[--json]',
    summary: 'list slot namespaces with state, age, tap flags, carrier, holders and processes',
    options: [...HOST_OPTIONS, JSON_OPTION],
    load: () => import('./commands/inventory.js'),
  },
  {
    name: 'cleanup',
    synopsis: '[--dry-run] [--kill-orphans] [--json]',
    summary: 'the --fix step alone: delete leftover slot namespaces (and orphaned VMMs with --kill-orphans)',
    options: [...HOST_OPTIONS, { name: 'dry-run', kind: 'boolean', help: 'list what would be done and change nothing' }, ...FIX_OPTIONS, JSON_OPTION],
    load: () => import('./commands/cleanup.js'),
  },
  {
    name: 'serve',
    synopsis: '[--listen 127.0.0.1:8431]',
    summary: 'readiness gate sidecar: GET /ready-for-vm, /healthz, /inventory, /metrics, /diagnose',
    options: [
      ...HOST_OPTIONS,
      { name: 'listen', kind: 'string', default: '127.0.0.1:8431', help: 'address of the HTTP gate' },
      EXTRA_CHECKS_OPTION,
      { name: 'max-waiters', kind: 'string', default: '1024', help: 'slot waits in flight at most (more answer 503 too-many-waiters)' },
      { name: 'nomad-meta', kind: 'boolean', help: 'publish the host verdict as Nomad node metadata (vmgate_ready, vmgate_reason), only when it changes' },
      { name: 'recheck-interval', kind: 'string', default: '10s', help: 'how often the tun device and kernel limit are re-read' },
      {
        name: 'host-state-interval',
        kind: 'string',
        default: '60s',
        help: "how often the host's slot rules, routes and veths are read (one iptables-save; orphaned rules warn, never block)",
      },
      { name: 'guest', kind: 'string', default: DEFAULT_GUEST, help: "the guest agent's ADDR:PORT, the only address GET /diagnose probes" },
      ...LEAK_OPTIONS,
    ],
    load: () => import('./commands/serve.js'),
  },
  {
    name: 'wait',
    synopsis: '--netns NAME [--iface tap0] [--timeout 10s] [--pid PID] [--json]',
    summary: "wait until a slot's tap has carrier (the gate's slot wait, without the server)",
    options: [
      ...HOST_OPTIONS.filter((s) => ['tap', 'log-level', 'log-format'].includes(s.name)),
      { name: 'netns', kind: 'string', help: 'the slot namespace (required)' },
      { name: 'iface', kind: 'string', help: 'the interface to wait for (default: --tap, tap0)' },
      { name: 'timeout', kind: 'string', default: '10s', help: 'give up after this long (at most 120s; 0 answers now)' },
      { name: 'pid', kind: 'string', help: 'the VMM process: answer vmm-exited as soon as it is gone' },
      JSON_OPTION,
    ],
    load: () => import('./commands/wait.js'),
  },
  {
    name: 'diagnose',
    synopsis: '--netns NAME [--compare NAME] [--guest ADDR:PORT] [--json]',
    summary: "one slot's namespace, tap, holders, VMM, network and guest, beside a working slot, with a verdict",
    options: [
      ...HOST_OPTIONS,
      { name: 'netns', kind: 'string', help: 'the slot to diagnose (required)' },
      { name: 'compare', kind: 'string', help: 'a slot to compare with (default: the healthiest active slot)' },
      { name: 'guest', kind: 'string', default: DEFAULT_GUEST, help: 'the guest agent to connect to from inside the namespace' },
      JSON_OPTION,
    ],
    load: () => import('./commands/diagnose.js'),
  },
];
