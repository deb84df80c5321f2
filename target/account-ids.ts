// User and group names to numeric ids, for the --*-owner / --*-group options: a number is
// taken as is, a name is looked up with getent (so NSS sources such as LDAP count).
import { execFileSync } from 'node:child_process';

const MAX_ID = 0xfffffffe; // (uid_t)-1 means "unchanged" to chown

function lookup(db: 'passwd' | 'group', what: string, kind: string): number {
  const v = what.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n > MAX_ID) throw new Error(`${kind} id ${v} is out of range (0..${MAX_ID})`);
    return n;
  }
  let line = '';
  try {
    line = execFileSync('getent', [db, v], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    throw new Error(`no ${kind} named '${v}' (getent ${db} ${v} found nothing); give a name that exists or a numeric id`);
  }
  const id = Number(line.split('\n')[0].split(':')[2]);
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new Error(`getent ${db} ${v} gave no usable id`);
  return id;
}

export const userId = (nameOrId: string): number => lookup('passwd', nameOrId, 'user');
export const groupId = (nameOrId: string): number => lookup('group', nameOrId, 'group');
