import { execa } from 'execa';
import { expect, it } from 'vitest';
import { describeHost } from '../helpers/host.js';

const SOAK = new URL('../../dist/bench/soak.js', import.meta.url).pathname;

/**
 * The soak (npm run soak runs it 10 minutes with the 10 MB RSS limit) for 60 s: nothing grows, nothing is left
 * behind. 60 s on a loaded machine is too short for V8's heap to settle (the floor rose 25 MB once, flat over 10
 * minutes): here the RSS limit catches a runaway leak only (40 MB); fds, children and waiters are exact.
 */
describeHost('soak, 60 s', () => {
  it('mixed waits of every reason, scrapes and namespace churn: RSS, fds, children and waiters do not grow', async () => {
    const r = await execa('node', [SOAK], { env: { SOAK_SECONDS: '60', SOAK_RSS_MB: '40' }, reject: false, timeout: 150_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
    expect(out.problems, `${r.stdout}\n${r.stderr}`).toEqual([]);
    expect(r.exitCode).toBe(0);
    for (const reason of ['carrier-up', 'timeout', 'netns-not-found', 'iface-not-found', 'iface-admin-down', 'vmm-exited', 'bad-request']) {
      expect(out.requests[reason], reason).toBeGreaterThan(0);
    }
    expect(out.waitersAtEnd).toBe(0);
  }, 180_000);
});
