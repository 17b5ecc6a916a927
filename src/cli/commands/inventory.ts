import { classifySlots } from '../../checks/slots.js';
import { hostConfig } from '../../config/host-config.js';
import { HOST_OPTIONS, type ParsedOptions } from '../../config/options.js';
import { takeSnapshot } from '../../host/snapshot.js';
import { formatInventory, inventoryJson } from '../../sinks/inventory-report.js';
import { JSON_OPTION, print, type Command } from '../command.js';

export const inventoryCommand: Command = {
  name: 'inventory',
  synopsis: '[--json]',
  summary: 'list slot namespaces with state, age, tap flags, carrier, holders and processes',
  options: [...HOST_OPTIONS, JSON_OPTION],
  async run(o: ParsedOptions) {
    const config = hostConfig(o);
    const view = classifySlots(await takeSnapshot(config), config);
    print(o.json ? JSON.stringify(inventoryJson(view)) : formatInventory(view, config.tap));
    return 0;
  },
};
