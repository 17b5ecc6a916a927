import pino, { type Logger } from 'pino';
import { createRequire } from 'node:module';
import type { LogConfig } from '../config/host-config.js';

export type { Logger };

/** Nomad's task variables, so every line says which allocation and task it came from. */
export function nomadContext(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const ctx: Record<string, string> = {};
  const map: [string, string][] = [
    ['NOMAD_ALLOC_ID', 'alloc_id'],
    ['NOMAD_TASK_NAME', 'task'],
    ['NOMAD_JOB_NAME', 'job'],
    ['NOMAD_GROUP_NAME', 'group'],
    // Nomad has no NOMAD_NODE_ID: the job passes ${node.unique.id} in this one
    ['VMGATE_NODE_ID', 'node_id'],
  ];
  for (const [from, to] of map) if (env[from]) ctx[to] = env[from]!;
  return ctx;
}

/** pino on stderr (stdout is for reports). Synchronous writes: a prestart task's last line must not be lost at exit. */
export function createLogger(config: LogConfig, env: NodeJS.ProcessEnv = process.env): Logger {
  const options = { level: config.level, base: { ...nomadContext(env) }, timestamp: pino.stdTimeFunctions.isoTime };
  if (config.format === 'pretty') {
    // loaded only for the pretty format (10 MB of RSS a JSON-logging gate never needs); pino-pretty is CommonJS
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    return pino(options, pretty({ destination: 2, sync: true, ignore: 'alloc_id,task,job,group,node_id' }));
  }
  return pino(options, pino.destination({ dest: 2, sync: true }));
}
