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
  it('reads flags from VMGATE_* and lets the flag win', async () => {
    let r = await runCli(['check', '--json'], { VMGATE_MIN_AGE: 'later' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--min-age 'later'");
    r = await runCli(['check', '--json', '--min-age', 'nope'], { VMGATE_MIN_AGE: '5s' });
    expect(r.stderr).toContain("--min-age 'nope'");
  });
});
