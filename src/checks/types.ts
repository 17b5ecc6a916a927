export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** what is wrong and what to do, readable alone */
  message: string;
  details: Record<string, unknown>;
}
