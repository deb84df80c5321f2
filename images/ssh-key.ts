// The root SSH key the harness logs into guests with: generated once per cache, never shipped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../harness/cache.js';
import { run } from '../harness/process.js';

export interface GuestKey {
  privateKeyPath: string;
  publicKey: string;
}

export async function guestKey(): Promise<GuestKey> {
  const dir = cacheDir('keys');
  const priv = join(dir, 'id_ed25519');
  if (!existsSync(priv)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vnvme-harness', '-f', priv], {
      hint: 'ssh-keygen comes with openssh-client: `apt-get install openssh-client`.',
    });
  }
  return { privateKeyPath: priv, publicKey: readFileSync(`${priv}.pub`, 'utf8').trim() };
}
