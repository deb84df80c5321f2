// The Debian mirror the host already uses, read from APT's sources (one-line `.list` and
// deb822 `.sources` formats), so provisioning fetches from where this machine is allowed to.
// VNVME_DEBIAN_MIRROR overrides it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AptSource {
  uri: string;
  suites: string[];
  file: string;
}

/** Parses one-line entries: `deb [options] URI SUITE COMPONENT...`. */
export function parseOneLineSources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ')) continue;
    const rest = line.slice(4).replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
    const [uri, suite] = rest;
    if (uri !== undefined && suite !== undefined) out.push({ uri, suites: [suite], file });
  }
  return out;
}

/** Parses deb822 stanzas: `Types: deb`, `URIs: ...`, `Suites: ...`, blank-line separated. */
export function parseDeb822Sources(text: string, file: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (raw.startsWith('#')) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last) ?? ''} ${raw.trim()}`);
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(raw);
      if (m?.[1] && m[2] !== undefined) {
        last = m[1].toLowerCase();
        fields.set(last, m[2].trim());
      }
    }
    if (fields.get('enabled')?.toLowerCase() === 'no') continue;
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb')) continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) out.push({ uri, suites, file });
  }
  return out;
}

export function readAptSources(root = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const main = join(root, 'sources.list');
  if (existsSync(main)) out.push(...parseOneLineSources(readFileSync(main, 'utf8'), main));
  const dir = join(root, 'sources.list.d');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (name.endsWith('.list')) out.push(...parseOneLineSources(readFileSync(p, 'utf8'), p));
      else if (name.endsWith('.sources')) out.push(...parseDeb822Sources(readFileSync(p, 'utf8'), p));
    }
  }
  return out;
}

/** A Debian archive (not debian-security, not a third-party repo): its path ends in `/debian`. */
export function pickDebianMirror(sources: readonly AptSource[]): string | undefined {
  const found = sources.find((s) => /^https?:\/\/[^/]+(\/.*)?\/debian\/?$/.test(s.uri));
  return found?.uri.replace(/\/$/, '');
}

export function debianMirror(env: NodeJS.ProcessEnv = process.env, aptRoot = '/etc/apt'): string {
  const override = env.VNVME_DEBIAN_MIRROR;
  if (override) return override.replace(/\/$/, '');
  const mirror = pickDebianMirror(readAptSources(aptRoot));
  if (mirror) return mirror;
  throw new Error(
    `no Debian mirror found in ${aptRoot}/sources.list or ${aptRoot}/sources.list.d/ ` +
      '(looked for a `deb` entry whose URI ends in /debian).\n' +
      'Set VNVME_DEBIAN_MIRROR to a Debian archive URL this machine can reach, e.g. VNVME_DEBIAN_MIRROR=http://<mirror>/debian',
  );
}
