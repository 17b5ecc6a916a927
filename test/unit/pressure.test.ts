import fc from 'fast-check';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkPressure, DEFAULT_PRESSURE } from '../../src/checks/pressure.js';
import { conntrackFrom, lockHolders, neighFrom, parseNofile, parseSockstat, parseStatTable, readNbd, type PressureFacts } from '../../src/host/pressure.js';

/** procfs text as this machine's kernel (6.18) prints it */
const ARP = `entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls
00000080 00000005 00000000 00000000   00000004 00000000 00000000   00000000         00000000         000000eb         00000000       00000000            00000024
00000080 00000001 00000004 00000000   0000000c 00000004 00000000   00000000         00000000         00000000         00000000       00000000            00000024
`;
const CT = `entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000002  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000002 00000003 00000000  00000000 00000000 00000000 00000000
00000002  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000004 00000000  00000000 00000000 00000000 00000000
`;
const EMPTY: PressureFacts = { neigh4: null, neigh6: null, conntrack: null, ports: null, files: null, orchestratorFds: [], nbd: null, xtablesLock: null };
const judge = (f: Partial<PressureFacts>, recent: Parameters<typeof checkPressure>[0]['recentRefusals'] = null) =>
  checkPressure({ facts: { ...EMPTY, ...f }, limits: DEFAULT_PRESSURE, recentRefusals: recent, nowMs: 10_000 });

describe('procfs parsers', () => {
  it('neighbour stats: entries from the first row, table_fulls summed over CPUs (hex)', () => {
    expect(neighFrom(ARP, 128)).toEqual({ entries: 128, gcThresh3: 128, tableFulls: 72 });
    expect(neighFrom('', 128)).toBeNull();
  });
  it('conntrack: drop + early_drop + insert_failed over every CPU row', () => {
    expect(conntrackFrom(CT, 5, 100)).toEqual({ count: 5, max: 100, drops: 1 + 2 + 3 + 4 });
  });
  it('sockstat, limits and locks', () => {
    expect(parseSockstat('sockets: used 12\nTCP: inuse 7 orphan 0 tw 78 alloc 1 mem 30\n')).toEqual({ inUse: 7, timeWait: 78 });
    expect(parseNofile('Max open files            1024                 524288               files\n')).toBe(1024);
    expect(parseNofile('Max open files            unlimited            unlimited            files\n')).toBeNull();
    expect(
      lockHolders(
        '1: FLOCK  ADVISORY  WRITE 15479 fe:00:16637955 0 EOF\n2: FLOCK  ADVISORY  WRITE 99 fe:00:1 0 EOF\n1: -> FLOCK  ADVISORY  WRITE 7 fe:00:16637955 0 EOF\n',
        16637955,
      ),
    ).toEqual([15479]);
  });
  it('never throw on any text (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        parseStatTable(s);
        parseSockstat(s);
        parseNofile(s);
        lockHolders(s, 1);
        neighFrom(s, 1);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
  it('NBD from a sysfs-shaped tree: in use, orphaned (pid gone), not quiesced', async () => {
    const root = mkdtempSync(`${tmpdir()}/vgsys-`);
    const dev = (n: string, size: string, pid: string | null, inflight: string) => {
      mkdirSync(`${root}/block/${n}`, { recursive: true });
      writeFileSync(`${root}/block/${n}/size`, `${size}\n`);
      writeFileSync(`${root}/block/${n}/inflight`, `${inflight}\n`);
      if (pid) writeFileSync(`${root}/block/${n}/pid`, `${pid}\n`);
    };
    dev('nbd0', '0', null, '       0        0');
    dev('nbd1', '2097152', '111', '       0        0');
    dev('nbd2', '2097152', '222', '       0        0');
    dev('nbd3', '0', null, '       1        0');
    mkdirSync(`${root}/module/nbd/parameters`, { recursive: true });
    writeFileSync(`${root}/module/nbd/parameters/nbds_max`, '4\n');
    const nbd = (await readNbd(root, (pid) => Promise.resolve(pid === 111)))!;
    expect(nbd).toMatchObject({ nbdsMax: 4, devices: 4, inUse: 2 });
    expect(nbd.orphaned).toEqual([
      { device: 'nbd2', why: 'its pid 222 is gone' },
      { device: 'nbd3', why: 'not quiesced (inflight 1 0)' },
    ]);
    expect(judge({ nbd }).status).toBe('fail');
    expect(await readNbd(`${root}/none`)).toBeNull();
  });
});

describe('host-pressure judgement', () => {
  it('passes with room, warns from 80%, fails from 95%, naming the table, used/limit and the sysctl', () => {
    expect(judge({ neigh4: { entries: 100, gcThresh3: 1024, tableFulls: 0 } }).status).toBe('pass');
    const warn = judge({ neigh4: { entries: 900, gcThresh3: 1024, tableFulls: 0 } });
    expect(warn.status).toBe('warn');
    expect(warn.message).toContain('IPv4 neighbour table 900/1,024 (88%)');
    expect(warn.message).toContain('sysctl -w net.ipv4.neigh.default.gc_thresh3=2048');
    const fail = judge({ conntrack: { count: 260_000, max: 262_144, drops: 0 } });
    expect(fail.status).toBe('fail');
    expect(fail.message).toContain('nf_conntrack_max=524288');
  });
  it('refusals in the last minute fail (serve); counts since boot alone do not (check)', () => {
    const f = { neigh4: { entries: 10, gcThresh3: 1024, tableFulls: 37 } };
    expect(judge(f).status).toBe('pass');
    const r = judge(f, { neigh4: 37 });
    expect(r.status).toBe('fail');
    expect(r.message).toContain('refused 37 IPv4 neighbour table entries in the last minute');
  });
  it('the xtables lock held warns with who holds it and for how long', () => {
    const r = checkPressure({
      facts: { ...EMPTY, xtablesLock: { path: '/run/xtables.lock', holders: [{ pid: 42, comm: 'flock' }] } },
      limits: DEFAULT_PRESSURE,
      recentRefusals: {},
      lockHeldSinceMs: 4_000,
      nowMs: 10_000,
    });
    expect(r.status).toBe('warn');
    expect(r.message).toContain('/run/xtables.lock is held for 6s by pid 42 (flock)');
  });
  it("the orchestrator's open files against its RLIMIT_NOFILE", () => {
    expect(judge({ orchestratorFds: [{ pid: 9, open: 1000, limit: 1024 }] }).status).toBe('fail');
    expect(judge({ orchestratorFds: [{ pid: 9, open: 10, limit: 1024 }] }).status).toBe('pass');
  });
});
