import { describe, expect, it } from 'vitest';
import { hostConfig } from '../../src/config/host-config.js';
import { HOST_OPTIONS, parseOptions, envName } from '../../src/config/options.js';
import { UsageError } from '../../src/config/usage-error.js';
import { LEAK_OPTIONS, leakOptions } from '../../src/config/leak-options.js';
import { nomadContext } from '../../src/sinks/log.js';

describe('options', () => {
  const parse = (argv: string[], env: Record<string, string> = {}) =>
    parseOptions('check', argv, [...HOST_OPTIONS, { name: 'fix', kind: 'boolean', help: '' }], env);
  it('defaults as documented', () => {
    const c = hostConfig(parse([]));
    expect(c).toMatchObject({
      tap: 'tap0',
      minAgeMs: 30_000,
      maxNamespaces: null,
      capacityWarn: 0.8,
      orchestratorComm: 'orchestrator',
      tunPath: '/dev/net/tun',
    });
    expect(c.netnsPattern.test('ns-12')).toBe(true);
    expect(c.netnsPattern.test('ns-12x')).toBe(false);
  });
  it('flag wins over VMGATE_*, which wins over the default, for strings and booleans', () => {
    expect(envName('netns-pattern')).toBe('VMGATE_NETNS_PATTERN');
    expect(parse([], { VMGATE_TAP: 'tap1' }).tap).toBe('tap1');
    expect(parse(['--tap', 'tap2'], { VMGATE_TAP: 'tap1' }).tap).toBe('tap2');
    expect(parse([], { VMGATE_FIX: 'true' }).fix).toBe(true);
    expect(parse([], { VMGATE_FIX: '0' }).fix).toBe(false);
    expect(() => parse([], { VMGATE_FIX: 'maybe' })).toThrow(UsageError);
  });
  it('rejects bad values with the flag named', () => {
    expect(() => hostConfig(parse(['--max-namespaces', '0']))).toThrow(/--max-namespaces '0'/);
    expect(() => hostConfig(parse(['--max-namespaces', '1.5']))).toThrow(/whole number/);
    expect(() => hostConfig(parse(['--orchestrator-comm', '']))).toThrow(/must not be empty/);
  });
  it('log lines carry Nomad context when it is there', () => {
    expect(nomadContext({ NOMAD_ALLOC_ID: 'a1', NOMAD_TASK_NAME: 'vmgate-preflight', NOMAD_JOB_NAME: 'orch', NOMAD_GROUP_NAME: 'g' })).toEqual({
      alloc_id: 'a1',
      task: 'vmgate-preflight',
      job: 'orch',
      group: 'g',
    });
    expect(nomadContext({})).toEqual({});
  });
});

describe('leak options (serve)', () => {
  const parse = (...argv: string[]) => leakOptions(parseOptions('serve', argv, LEAK_OPTIONS, {}));

  it('defaults: 10m, warn 10, fail off, pool 32; VMGATE_LEAK_FAIL works like the flag', () => {
    expect(parse()).toEqual({ ageMs: 600_000, warn: 10, fail: null, pool: 32 });
    expect(parse('--leak-age', '90s', '--leak-warn', '3', '--leak-fail', '20', '--leak-pool', '0')).toEqual({ ageMs: 90_000, warn: 3, fail: 20, pool: 0 });
    expect(leakOptions(parseOptions('serve', [], LEAK_OPTIONS, { VMGATE_LEAK_FAIL: '5' })).fail).toBe(5);
  });

  it('a bad value is a usage error naming the flag', () => {
    for (const [flag, value, says] of [
      ['--leak-age', '500ms', 'at least 1s'],
      ['--leak-age', 'soon', 'not a duration'],
      ['--leak-warn', '0', '>= 1'],
      ['--leak-fail', 'x', "or 'off'"],
      ['--leak-pool', '1.5', '>= 0'],
    ] as const) {
      expect(() => parse(flag, value)).toThrow(UsageError);
      expect(() => parse(flag, value)).toThrow(new RegExp(`${flag}.*${says}`));
    }
  });
});
