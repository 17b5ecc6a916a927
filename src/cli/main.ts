import { readFileSync } from 'node:fs';
import { helpText, parseOptions } from '../config/options.js';
import { UsageError } from '../config/usage-error.js';
import { print } from './command.js';
import { COMMANDS } from './registry.js';

export { COMMANDS };

function usage(): string {
  const lines = ['usage: vmgate <command> [options]', '', 'commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', "'vmgate <command> --help' lists a command's options.");
  return lines.join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Resolves a command line to the command and its options, or throws UsageError. Also used to vet the Nomad job's args. */
export function resolve(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const [name, ...rest] = argv;
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(name ? `unknown command '${name}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})` : 'no command given');
  return { command, options: parseOptions(command.name, rest, command.options, env) };
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    print(usage());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version') {
    print(version());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command && (argv.includes('--help') || argv.includes('-h'))) {
    print(helpText(command.name, command.synopsis, command.options));
    return 0;
  }
  try {
    const r = resolve(argv);
    return await (await r.command.load()).run(r.options);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`vmgate: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`vmgate: ${first} failed: ${(err as Error).message.split('\n')[0]}\n`);
    if (process.env.VMGATE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}
