import { classifySlots } from '../../checks/slots.js';
import { hostStateOf } from '../../checks/host-state.js';
import { hostConfig } from '../../config/host-config.js';
import { takeSnapshot } from '../../host/snapshot.js';
import { formatInventory, inventoryJson } from '../../sinks/inventory-report.js';
import { print } from '../command.js';
import type { InventoryFlags } from '../command-options.js';

export async function run(o: InventoryFlags): Promise<number> {
  const config = hostConfig(o);
  const facts = await takeSnapshot(config, { nsids: o.nsids === true });
  const view = classifySlots(facts, config);
  const host = hostStateOf(facts, config);
  print(o.json ? JSON.stringify(inventoryJson(view, host)) : formatInventory(view, config.tap, host));
  return 0;
}
