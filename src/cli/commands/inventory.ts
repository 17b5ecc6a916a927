import { classifySlots } from '../../checks/slots.js';
import { hostConfig } from '../../config/host-config.js';
import type { ParsedOptions } from '../../config/options.js';
import { takeSnapshot } from '../../host/snapshot.js';
import { formatInventory, inventoryJson } from '../../sinks/inventory-report.js';
import { print } from '../command.js';

export async function run(o: ParsedOptions): Promise<number> {
  const config = hostConfig(o);
  const view = classifySlots(await takeSnapshot(config), config);
  print(o.json ? JSON.stringify(inventoryJson(view)) : formatInventory(view, config.tap));
  return 0;
}
