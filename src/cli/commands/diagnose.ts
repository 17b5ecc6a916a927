import { hostConfig, str } from '../../config/host-config.js';
import { UsageError } from '../../config/usage-error.js';
import { NETNS_NAME } from '../../gate/wait-answer.js';
import { DEFAULT_GUEST, diagnoseWithCompare, diagnosisJson, validGuest } from '../../diagnose/diagnose-slot.js';
import { classifySlots } from '../../checks/slots.js';
import { takeSnapshot } from '../../host/snapshot.js';
import { formatDiagnosis } from '../../sinks/diagnose-report.js';
import { print } from '../command.js';
import type { DiagnoseFlags } from '../command-options.js';

export async function run(o: DiagnoseFlags): Promise<number> {
  const netns = o.netns;
  if (typeof netns !== 'string') throw new UsageError('diagnose: --netns is required');
  for (const [flag, v] of [
    ['netns', netns],
    ['compare', o.compare],
  ] as const) {
    if (typeof v === 'string' && !NETNS_NAME.test(v)) throw new UsageError(`diagnose: --${flag} '${v}' is not a namespace name (1 to 64 of A-Z a-z 0-9 . _ -)`);
  }
  const guest = str(o, 'guest');
  if (!validGuest(guest)) throw new UsageError(`diagnose: --guest '${guest}' must be ADDR:PORT (e.g. ${DEFAULT_GUEST})`);
  const config = hostConfig(o);
  const { slot, compare } = await diagnoseWithCompare(config, netns, typeof o.compare === 'string' ? o.compare : undefined, guest, async () =>
    classifySlots(await takeSnapshot(config), config),
  );
  print(o.json ? JSON.stringify(diagnosisJson(slot, compare)) : formatDiagnosis(slot, compare, config.tap));
  return slot.diagnosis.verdict === 'healthy' ? 0 : 1;
}
