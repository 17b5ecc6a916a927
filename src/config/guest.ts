/** The guest agent (envd) every slot's VM runs: the default of --guest, the one address the guest probe may reach. */
export const DEFAULT_GUEST = '169.254.0.21:49983';

export function validGuest(text: string): boolean {
  return /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(text);
}
