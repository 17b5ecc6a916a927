import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const processCount = () => readdirSync('/proc').filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57).length;

/**
 * A busy host, as in the incident: n more processes, each holding 10 open fds (7 beyond stdio), in one process
 * group so they end together. Resolves once /proc shows them all.
 */
export async function busyHost(n: number): Promise<{ stop: () => Promise<void> }> {
  const before = processCount();
  const script = `for i in $(seq ${n}); do (exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null 8</dev/null 9</dev/null; exec sleep 3600) & done; wait`;
  const sh = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  const stop = async () => {
    try {
      process.kill(-sh.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 100 && processCount() > before + 5; i++) await sleep(50);
  };
  process.once('exit', () => void stop());
  for (let i = 0; i < 400 && processCount() < before + n; i++) await sleep(50);
  return { stop };
}
