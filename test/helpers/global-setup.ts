import { execa } from 'execa';
import { removeNamespaces, IS_ROOT } from './host.js';

/** Builds nothing: `npm test` compiles first. Removes any vgtest-* namespace a crashed run left behind, before and after. */
export async function setup(): Promise<() => Promise<void>> {
  const sweep = async () => {
    if (!IS_ROOT) return;
    await execa('pkill', ['-f', 'test/fixtures/(tap-holder|named-process|thread-holder).py'], { reject: false });
    await removeNamespaces('vgtest-');
  };
  await sweep();
  return sweep;
}
