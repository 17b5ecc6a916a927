import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    projects: [
      // everything that can share the host with other files, in parallel
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ['test/**/*.exclusive.test.ts'], sequence: { groupOrder: 0 } } },
      // files that change what every other file sees (a global sysctl such as the neighbour table's limits): alone, after the rest
      { extends: true, test: { name: 'exclusive', include: ['test/**/*.exclusive.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
