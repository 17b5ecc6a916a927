import type { OptionSpec, ParsedOptions } from '../config/options.js';

export interface Command {
  name: string;
  synopsis: string;
  summary: string;
  options: OptionSpec[];
  /** returns the exit code */
  run(options: ParsedOptions): Promise<number>;
}

export const JSON_OPTION: OptionSpec = { name: 'json', kind: 'boolean', help: 'print one JSON object on stdout instead of the human report' };

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
