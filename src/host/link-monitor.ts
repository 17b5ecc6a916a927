import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseMonitorLine, type MonitorEvent } from './monitor-line.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/**
 * One long-lived `ip -o monitor all-nsid link` in the host namespace: link changes of every namespace that has an
 * nsid. Not the `nsid` object: for every nsid event ip re-reads all of /run/netns to print a name (18.6k openat and
 * sendmsg in 6 s of churn at 900 slots, and the link lines queued behind them). vmgate learns of namespaces from
 * inotify on /run/netns and asks their nsids itself. Emits 'event' (MonitorEvent), 'exit' (reason) and 'overflow'
 * (ip's error line) when its socket overflowed and events were lost.
 */
export class LinkMonitor extends EventEmitter {
  private child: ChildProcess | null = null;

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  describe(): string {
    return `ip monitor pid ${this.child?.pid ?? 'none'}`;
  }

  onEvent(fn: (ev: MonitorEvent) => void): void {
    this.on('event', fn);
  }

  onExit(fn: (reason: string) => void): void {
    this.on('exit', fn);
  }

  onOverflow(fn: (detail: string) => void): void {
    this.on('overflow', fn);
  }

  /** Resolves once the kernel delivers events to the monitor's socket, so a read after this misses nothing. */
  async start(): Promise<void> {
    const args = ['-o', 'monitor', 'all-nsid', 'link'];
    // setpriv --pdeathsig: the kernel ends ip monitor even if vmgate itself is SIGKILLed
    const child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', 'ip', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr = (stderr + text).slice(-500);
      // the socket overflowed: ip carries on, but the events in between are lost for good
      const m = /netlink receive error[^\n]*No buffer space available[^\n]*/.exec(text);
      if (m && this.child === child) this.emit('overflow', m[0].trim());
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const ev = parseMonitorLine(line);
      if (ev) this.emit('event', ev satisfies MonitorEvent);
    });
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not start ip monitor: ${err.message}`));
      child.once('exit', (code, signal) => resolve(`ip monitor exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    void exited.then((reason) => {
      if (this.child === child) {
        this.child = null;
        this.emit('exit', reason);
      }
    });
    const subscribed = await Promise.race([waitSubscribed(child), exited.then(() => false)]);
    if (!subscribed) {
      this.stop();
      throw new Error(`ip monitor did not subscribe to link events${stderr ? `: ${stderr.trim()}` : ''}`);
    }
  }

  stop(): void {
    const child = this.child;
    this.child = null;
    child?.kill('SIGKILL');
  }
}

/** The monitor's netlink socket has joined RTNLGRP_LINK when /proc/net/netlink shows it with that group bit. */
async function waitSubscribed(child: ChildProcess, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.pid !== undefined && joinedLinkGroup(child.pid)) return true;
    if (child.exitCode !== null || child.signalCode !== null) return false;
    await sleep(2);
  }
  return false;
}

function joinedLinkGroup(pid: number): boolean {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    }
  } catch {
    return false;
  }
  if (inodes.size === 0) return false;
  for (const line of readFileSync('/proc/net/netlink', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode; Eth 0 is NETLINK_ROUTE; bit 0 of Groups is RTNLGRP_LINK
    if (cols.length >= 10 && cols[1] === '0' && inodes.has(cols[9]!) && (parseInt(cols[3]!, 16) & 1) === 1) return true;
  }
  return false;
}
