import { diagnose } from '../checks/diagnose-verdict.js';
import { classifySlots } from '../checks/slots.js';
import type { HostConfig } from '../config/host-config.js';
import { probeGuest, readSlotDetails } from '../host/slot-details.js';
import { takeSnapshot } from '../host/snapshot.js';
import type { Diagnosis } from '../checks/diagnose-verdict.js';
import type { SlotDetails } from '../host/slot-details.js';

/** One slot's facts and the verdict on them. */
export interface DiagnosedSlot {
  facts: SlotDetails;
  diagnosis: Diagnosis;
}

export { DEFAULT_GUEST, validGuest } from '../config/guest.js';

export async function diagnoseSlot(netns: string, config: HostConfig, guest: string | null): Promise<DiagnosedSlot> {
  const facts = await readSlotDetails(netns, config.tap);
  // without carrier no packet reaches the guest: probing would only wait for its timeout
  if (guest && facts.tap.carrier) facts.guest = await probeGuest(netns, guest);
  return { facts, diagnosis: diagnose(facts, config.tap) };
}

/** The healthiest active slot other than this one: a holder attached and carrier up. */
export async function pickCompare(config: HostConfig, exclude: string): Promise<string | null> {
  const view = classifySlots(await takeSnapshot(config), config);
  const good = view.slots.find((s) => s.name !== exclude && s.taps.some((t) => t.name === config.tap && t.carrier && t.holders.length === 1));
  return good?.name ?? null;
}

export async function diagnoseWithCompare(config: HostConfig, netns: string, compareName: string | null | undefined, guest: string | null) {
  const other = compareName === undefined ? await pickCompare(config, netns) : compareName;
  const [slot, compare] = await Promise.all([diagnoseSlot(netns, config, guest), other ? diagnoseSlot(other, config, guest) : Promise.resolve(null)]);
  return { slot, compare };
}

export function diagnosisJson(slot: DiagnosedSlot, compare: DiagnosedSlot | null) {
  return { ...slot.diagnosis, slot: slot.facts, compare: compare ? { ...compare.facts, verdict: compare.diagnosis.verdict } : null };
}

