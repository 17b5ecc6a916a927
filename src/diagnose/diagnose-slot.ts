import { diagnose, type Diagnosis } from '../checks/diagnose-verdict.js';
import type { SlotsView } from '../checks/slots.js';
import type { HostConfig } from '../config/host-config.js';
import { NETNS_DIR } from '../host/named-namespaces.js';
import { readPressure } from '../host/pressure.js';
import { probeGuest, readSlotDetails, type SlotDetails, type SlotSources } from '../host/slot-details.js';

/** One slot's facts and the verdict on them. */
export interface DiagnosedSlot {
  facts: SlotDetails;
  diagnosis: Diagnosis;
}

export { DEFAULT_GUEST, validGuest } from '../config/guest.js';

export async function diagnoseSlot(netns: string, config: HostConfig, guest: string | null, sources: SlotSources = {}): Promise<DiagnosedSlot> {
  const facts = await readSlotDetails(netns, config.tap, NETNS_DIR, sources);
  facts.pressure = await readPressure();
  // without carrier no packet reaches the guest: probing would only wait for its timeout
  if (guest && facts.tap.carrier) facts.guest = await probeGuest(netns, guest);
  return { facts, diagnosis: diagnose(facts, config.tap) };
}

/** The healthiest active slot other than this one: a holder attached and carrier up. */
export function pickCompare(view: SlotsView, tap: string, exclude: string): string | null {
  const good = view.slots.find((s) => s.name !== exclude && s.taps.some((t) => t.name === tap && t.carrier && t.holders.length === 1));
  return good?.name ?? null;
}

/**
 * A slot, and beside it another (named, or the healthiest active one when compareName is undefined). `slots` gives
 * the view to pick from (the CLI: a snapshot; serve: its live facts); `sources` what the caller already knows.
 */
export async function diagnoseWithCompare(
  config: HostConfig,
  netns: string,
  compareName: string | null | undefined,
  guest: string | null,
  slots: () => Promise<SlotsView>,
  sources: SlotSources = {},
) {
  const other = compareName === undefined ? pickCompare(await slots(), config.tap, netns) : compareName;
  const [slot, compare] = await Promise.all([
    diagnoseSlot(netns, config, guest, sources),
    other ? diagnoseSlot(other, config, guest, sources) : Promise.resolve(null),
  ]);
  return { slot, compare };
}

export function diagnosisJson(slot: DiagnosedSlot, compare: DiagnosedSlot | null) {
  return { ...slot.diagnosis, slot: slot.facts, compare: compare ? { ...compare.facts, verdict: compare.diagnosis.verdict } : null };
}
