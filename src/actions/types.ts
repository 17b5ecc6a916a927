export type { FixedEntry } from '../checks/fixed-entry.js';
