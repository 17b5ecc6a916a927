import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../clients/go/', import.meta.url).pathname;
const hasGo = await execa('go', ['version'], { reject: false })
  .then((r) => r.exitCode === 0)
  .catch(() => false);
// no network: the client uses the standard library only
const env = {
  GOPROXY: 'off',
  GOFLAGS: '-mod=mod',
  GOCACHE: process.env.GOCACHE ?? `${process.env.HOME ?? tmpdir()}/.cache/go-build`,
  CI: process.env.CI ?? '',
};

/** The Go client (clients/go): vet, then its tests, pure and live (the live ones need root and the built gate). */
describe('the Go client', () => {
  if (!hasGo) {
    if (process.env.CI === 'true') {
      it('needs go', () => {
        throw new Error("go is not installed: .ci/run installs golang-go; run 'apt-get install golang-go'");
      });
      return;
    }
    process.stderr.write("\n!!! SKIPPED the Go client's tests: no 'go' on PATH (apt-get install golang-go)\n\n");
    it.skip('go vet and go test', () => undefined);
    return;
  }
  it('is formatted and vets clean', async () => {
    const fmt = await execa('gofmt', ['-l', '.'], { cwd: dir, reject: false });
    expect(fmt.stdout, 'gofmt -l lists unformatted files').toBe('');
    const vet = await execa('go', ['vet', './...'], { cwd: dir, env, reject: false });
    expect(vet.exitCode, vet.stderr).toBe(0);
  });
  it('passes go test (pure tests against httptest, live tests against vmgate serve on real slots)', async () => {
    const r = await execa('go', ['test', '-count=1', '-v', './...'], { cwd: dir, env, reject: false, timeout: 240_000 });
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    // under CI a skipped live test is a failed one (the Go tests fail themselves then; this says it twice)
    if (process.env.CI === 'true') expect(r.stdout).not.toMatch(/--- SKIP/);
  }, 300_000);
});
