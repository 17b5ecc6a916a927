import { CHECK_IDS } from '../checks/run-checks.js';
import { EXTRA_CHECK_IDS } from '../config/extra-checks.js';
import { DEFAULT_GUEST } from '../config/guest.js';
import { LEAK_OPTIONS } from '../config/leak-options.js';
import { HOST_OPTIONS, LOG_OPTIONS, TAP_OPTION, type OptionsOf, type OptionSpec } from '../config/options.js';

/** Each command's flags, as tables (help, parsing) and as the typed object its run() gets (OptionsOf). */

export const JSON_OPTION = { name: 'json', kind: 'boolean', help: 'print one JSON object on stdout instead of the human report' } as const satisfies OptionSpec;

const EXTRA_CHECKS_OPTION = {
  name: 'extra-checks',
  kind: 'string',
  default: '',
  help: `host prerequisites to check besides the default ones (${EXTRA_CHECK_IDS.join(', ')}, or all)`,
} as const satisfies OptionSpec;

const FIX_OPTIONS = [
  { name: 'kill-orphans', kind: 'boolean', help: 'also end orphaned VMMs (SIGTERM, then SIGKILL after --kill-grace) before reclaiming their namespaces' },
  { name: 'kill-grace', kind: 'string', default: '5s', help: 'time between SIGTERM and SIGKILL for --kill-orphans' },
  { name: 'dedupe-rules', kind: 'boolean', help: "also delete extra copies of live slots' firewall rules, leaving exactly one of each" },
] as const satisfies readonly OptionSpec[];

export const CHECK_OPTIONS = [
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
] as const satisfies readonly OptionSpec[];
export type CheckFlags = OptionsOf<typeof CHECK_OPTIONS>;

export const INVENTORY_OPTIONS = [
  ...HOST_OPTIONS,
  JSON_OPTION,
  {
    name: 'nsids',
    kind: 'boolean',
    help: "also read each namespace's nsid (the kernel walks its nsid table once per name: 2.7 s at 10,000 names)",
  },
] as const satisfies readonly OptionSpec[];
export type InventoryFlags = OptionsOf<typeof INVENTORY_OPTIONS>;

export const CLEANUP_OPTIONS = [
  ...HOST_OPTIONS,
  { name: 'dry-run', kind: 'boolean', help: 'list what would be done and change nothing' },
  ...FIX_OPTIONS,
  JSON_OPTION,
] as const satisfies readonly OptionSpec[];
export type CleanupFlags = OptionsOf<typeof CLEANUP_OPTIONS>;

export const SERVE_OPTIONS = [
  ...HOST_OPTIONS,
  { name: 'listen', kind: 'string', default: '127.0.0.1:8431', help: 'address of the HTTP gate' },
  EXTRA_CHECKS_OPTION,
  { name: 'max-waiters', kind: 'string', default: '1024', help: 'slot waits in flight at most (more answer 503 too-many-waiters)' },
  { name: 'nomad-meta', kind: 'boolean', help: 'publish the host verdict as Nomad node metadata (vmgate_ready, vmgate_reason), only when it changes' },
  { name: 'recheck-interval', kind: 'string', default: '10s', help: 'how often the tun device and kernel limit are re-read' },
  {
    name: 'host-state-interval',
    kind: 'string',
    default: '5m',
    help: "how often at least the host's slot rules, routes and veths are read (also 10s after slots come or go; a slow read spaces the next ones: 500x its time; one iptables-save; orphaned rules warn, never block)",
  },
  { name: 'guest', kind: 'string', default: DEFAULT_GUEST, help: "the guest agent's ADDR:PORT, the only address GET /diagnose probes" },
  ...LEAK_OPTIONS,
  {
    name: 'orchestrator-status',
    kind: 'string',
    default: '',
    help: "the orchestrator's gRPC HOST:PORT: set it Unhealthy while the host is not ready, Healthy again after (only what vmgate set)",
  },
  { name: 'orchestrator-status-hold', kind: 'string', default: '10s', help: 'how long the verdict must hold before the orchestrator status follows it' },
  {
    name: 'orchestrator-status-state',
    kind: 'string',
    default: '',
    help: 'where vmgate remembers that it set Unhealthy (default: $NOMAD_TASK_DIR/orchestrator-status.json, else /run/vmgate/...)',
  },
] as const satisfies readonly OptionSpec[];
export type ServeFlags = OptionsOf<typeof SERVE_OPTIONS>;

export const WAIT_OPTIONS = [
  TAP_OPTION,
  ...LOG_OPTIONS,
  { name: 'netns', kind: 'string', help: 'the slot namespace (required)' },
  { name: 'iface', kind: 'string', help: 'the interface to wait for (default: --tap, tap0)' },
  { name: 'timeout', kind: 'string', default: '10s', help: 'give up after this long (at most 120s; 0 answers now)' },
  { name: 'pid', kind: 'string', help: 'the VMM process: answer vmm-exited as soon as it is gone' },
  JSON_OPTION,
] as const satisfies readonly OptionSpec[];
export type WaitFlags = OptionsOf<typeof WAIT_OPTIONS>;

export const DIAGNOSE_OPTIONS = [
  ...HOST_OPTIONS,
  { name: 'netns', kind: 'string', help: 'the slot to diagnose (required)' },
  { name: 'compare', kind: 'string', help: 'a slot to compare with (default: the healthiest active slot)' },
  { name: 'guest', kind: 'string', default: DEFAULT_GUEST, help: 'the guest agent to connect to from inside the namespace' },
  JSON_OPTION,
] as const satisfies readonly OptionSpec[];
export type DiagnoseFlags = OptionsOf<typeof DIAGNOSE_OPTIONS>;
