import type { OptionSpec } from '../config/options.js';
import { CHECK_OPTIONS, CLEANUP_OPTIONS, DIAGNOSE_OPTIONS, INVENTORY_OPTIONS, SERVE_OPTIONS, WAIT_OPTIONS } from './command-options.js';

/** What a command is, without what it needs to run: help and flag parsing load nothing else (cold start). */
export interface CommandSpec {
  name: string;
  synopsis: string;
  summary: string;
  options: readonly OptionSpec[];
  /** the command's code, imported only when it runs; it gets its flags typed from its own table (cli/command-options.ts) */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command's run takes its own typed flags; the dispatcher parses with the same table
  load(): Promise<{ run(options: any): Promise<number> }>;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'check',
    synopsis: '[--fix [--kill-orphans]] [--ignore ID,...] [--json]',
    summary: 'prestart: verify the tun device, namespace capacity, what vmgate can see, and leftovers; --fix reclaims leftovers',
    options: CHECK_OPTIONS,
    load: () => import('./commands/check.js'),
  },
  {
    name: 'inventory',
    synopsis: '[--json]',
    summary: 'list slot namespaces with state, age, tap flags, carrier, holders and processes',
    options: INVENTORY_OPTIONS,
    load: () => import('./commands/inventory.js'),
  },
  {
    name: 'cleanup',
    synopsis: '[--dry-run] [--kill-orphans] [--json]',
    summary: 'the --fix step alone: delete leftover slot namespaces (and orphaned VMMs with --kill-orphans)',
    options: CLEANUP_OPTIONS,
    load: () => import('./commands/cleanup.js'),
  },
  {
    name: 'serve',
    synopsis: '[--listen 127.0.0.1:8431]',
    summary: 'readiness gate sidecar: GET /ready-for-vm, /healthz, /inventory, /metrics, /diagnose',
    options: SERVE_OPTIONS,
    load: () => import('./commands/serve.js'),
  },
  {
    name: 'wait',
    synopsis: '--netns NAME [--iface tap0] [--timeout 10s] [--pid PID] [--json]',
    summary: "wait until a slot's tap has carrier (the gate's slot wait, without the server)",
    options: WAIT_OPTIONS,
    load: () => import('./commands/wait.js'),
  },
  {
    name: 'diagnose',
    synopsis: '--netns NAME [--compare NAME] [--guest ADDR:PORT] [--json]',
    summary: "one slot's namespace, tap, holders, VMM, network and guest, beside a working slot, with a verdict",
    options: DIAGNOSE_OPTIONS,
    load: () => import('./commands/diagnose.js'),
  },
];
