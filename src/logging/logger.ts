/** The logger every room may take (a leaf: it imports nothing of vmgate). Created in sinks/log.ts, handed down. */
export type { Logger } from 'pino';
