import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHECK_IDS } from '../../src/checks/run-checks.js';
import { COMMANDS } from '../../src/cli/registry.js';
import { EXTRA_CHECK_IDS } from '../../src/config/extra-checks.js';
import { WAIT_STATUS } from '../../src/gate/wait-answer.js';

/** The reference lives in docs/: no flag, check id, reason code or metric may exist only in the code. */
const DOCS = new URL('../../docs/', import.meta.url).pathname;
const text = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .map((f) => readFileSync(`${DOCS}${f}`, 'utf8'))
  .join('\n');
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('docs/ hold the whole reference', () => {
  it('every flag of every command', () => {
    const flags = new Set(COMMANDS.flatMap((c) => c.options.map((o) => `--${o.name}`)));
    expect([...flags].filter((f) => !text.includes(`\`${f}`))).toEqual([]);
  });

  it('every check id and host prerequisite', () => {
    expect([...CHECK_IDS, ...EXTRA_CHECK_IDS].filter((id) => !text.includes(`\`${id}\``))).toEqual([]);
  });

  it('every reason code of a slot wait', () => {
    expect(Object.keys(WAIT_STATUS).filter((r) => !text.includes(`\`${r}\``))).toEqual([]);
  });

  it('every metric', () => {
    const src = readFileSync(new URL('../../src/sinks/metrics.ts', import.meta.url), 'utf8');
    const names = [...src.matchAll(/name: '(vmgate_[a-z_]+)'/g)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((n) => !text.includes(n))).toEqual([]);
  });

  it('the README starts small and links every docs page', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
    for (const f of readdirSync(DOCS)) expect(readme).toContain(`docs/${f}`);
  });
});
