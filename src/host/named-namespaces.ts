import { readdirSync, statSync } from 'node:fs';
import { execa } from 'execa';

export const NETNS_DIR = '/run/netns';

export interface NamedNamespace {
  name: string;
  inode: number;
  createdAtMs: number;
}

/** The names in /run/netns with their namespace inode and creation time (nsfs ctime). */
export function readNamedNamespaces(dir = NETNS_DIR): NamedNamespace[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: NamedNamespace[] = [];
  for (const name of names) {
    try {
      const st = statSync(`${dir}/${name}`);
      out.push({ name, inode: st.ino, createdAtMs: st.ctimeMs });
    } catch {
      /* removed while we looked */
    }
  }
  return out;
}

/**
 * Parses `ip -j netns list` (or, from versions without JSON, the text form `NAME (id: N)`) into name -> nsid.
 * (`ip netns list-id` is not used: it printed only 134 of 1000 ids on iproute2 6.1.)
 */
export function parseNetnsList(output: string): Map<string, number | null> {
  const ids = new Map<string, number | null>();
  const text = output.trim();
  if (text === '') return ids;
  if (text.startsWith('[')) {
    for (const row of JSON.parse(text) as { name: string; id?: number }[]) {
      ids.set(row.name, typeof row.id === 'number' ? row.id : null);
    }
    return ids;
  }
  for (const line of text.split('\n')) {
    const m = /^(\S+)(?:\s+\(id:\s*(\d+)\))?/.exec(line.trim());
    if (m) ids.set(m[1]!, m[2] !== undefined ? Number(m[2]) : null);
  }
  return ids;
}

export async function readNsids(): Promise<Map<string, number | null>> {
  const { stdout } = await execa('ip', ['-j', 'netns', 'list']);
  return parseNetnsList(stdout);
}
