import { expect, it, describe } from 'vitest';
import { runCli } from '../helpers/host.js';

describe('usage errors: exit 2, one clear line, nothing done', () => {
  const cases: [string[], RegExp][] = [
    [['check', '--bogus'], /^vmgate: check: Unknown option '--bogus'$/],
    [['check', '--min-age', 'soon'], /^vmgate: --min-age 'soon' is not a duration/],
    [['check', '--netns-pattern', '('], /^vmgate: --netns-pattern is not a valid regular expression/],
    [['check', '--kill-orphans'], /^vmgate: --kill-orphans only works together with --fix$/],
    [['check', '--ignore', 'nope'], /^vmgate: --ignore: unknown check id 'nope'/],
    [['check', '--capacity-warn', '2'], /^vmgate: --capacity-warn '2' must be a fraction/],
    [['check', '--tap', 'a-name-far-too-long'], /^vmgate: --tap 'a-name-far-too-long' is not an interface name/],
    [['frobnicate'], /^vmgate: unknown command 'frobnicate'/],
    [['inventory', 'extra'], /^vmgate: inventory: unexpected argument 'extra'$/],
    [['check', '--extra-checks', 'all,bogus'], /^vmgate: --extra-checks: unknown check id 'bogus'/],
    [['check', '--netns-pattern', ''], /^vmgate: --netns-pattern must not be empty/],
    [['check', '--dedupe-rules'], /^vmgate: --dedupe-rules only works together with --fix$/],
    [['check', '--slot-layout', 'v9'], /^vmgate: --slot-layout 'v9' must be e2b-v1 or none$/],
    [['check', '--host-cidr', '10.11.0.0'], /^vmgate: --host-cidr '10.11.0.0' is not an IPv4 CIDR/],
    [['check', '--host-veth', 'veth-'], /^vmgate: --host-veth 'veth-' must contain \{N\} once/],
    [['serve', '--host-state-interval', '10ms'], /^vmgate: --host-state-interval '10ms' must be at least 1s$/],
  ];
  for (const [args, want] of cases) {
    it(args.join(' '), async () => {
      const r = await runCli(args);
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(want);
    });
  }
  it('an empty VMGATE_NETNS_PATTERN is a usage error, not "every namespace"', async () => {
    const r = await runCli(['cleanup', '--dry-run', '--json'], { VMGATE_NETNS_PATTERN: '' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--netns-pattern must not be empty');
  });

  it('reads flags from VMGATE_* and lets the flag win', async () => {
    let r = await runCli(['check', '--json'], { VMGATE_MIN_AGE: 'later' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--min-age 'later'");
    r = await runCli(['check', '--json', '--min-age', 'nope'], { VMGATE_MIN_AGE: '5s' });
    expect(r.stderr).toContain("--min-age 'nope'");
  });
});
