// Whether a listener directory is safe to serve DIR/cntrl from. Whoever can replace `cntrl`
// there (its owner, anyone who may create entries in it, anyone who may rename it or a parent)
// can put a socket of their own in its place, and the VMM connecting to it hands them its guest
// memory. So, as sshd's StrictModes does for ~/.ssh:
// - the directory must be owned by us or by root, and writable by neither group nor others
//   (a sticky bit does not help here: /tmp lets anyone create `cntrl` while we are not serving);
// - every parent must be owned by us or by root, and writable by group or others only with the
//   sticky bit (/tmp, /var/tmp), which stops them renaming our directory away.
import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const STICKY = 0o1000;

function mode(m: number): string {
  return `0${(m & 0o7777).toString(8)}`;
}

function writers(m: number): string {
  return m & 0o020 && m & 0o002 ? 'group and others' : m & 0o020 ? 'its group' : 'others';
}

/** Why `dir` is not a safe listener directory, or undefined if it is. */
export function listenerDirectoryProblem(dir: string): string | undefined {
  const me = process.geteuid?.();
  if (me === undefined) return undefined; // not a POSIX platform: nothing to compare
  const real = realpathSync(dir);
  const trusted = (uid: number) => uid === me || uid === 0;
  const st = statSync(real);
  if (!trusted(st.uid))
    return `listener directory '${dir}' is owned by uid ${st.uid}, not by us (uid ${me}) or root: its owner could replace cntrl with a socket of their own and receive the VMM's guest memory; chown it to uid ${me} or choose a directory of ours`;
  if (st.mode & 0o022)
    return `listener directory '${dir}' is writable by ${writers(st.mode)} (mode ${mode(st.mode)}): they could put their own socket at cntrl and receive the VMM's guest memory; chmod go-w it or choose a private directory (mkdir -m 0700)`;
  for (let p = dirname(real); ; p = dirname(p)) {
    const ps = statSync(p);
    if (!trusted(ps.uid))
      return `'${p}', a parent of listener directory '${dir}', is owned by uid ${ps.uid}, not by us (uid ${me}) or root: its owner could swap the listener directory for one of their own; choose a directory whose parents are ours or root's`;
    if (ps.mode & 0o022 && !(ps.mode & STICKY))
      return `'${p}', a parent of listener directory '${dir}', is writable by ${writers(ps.mode)} without the sticky bit (mode ${mode(ps.mode)}): they could swap the listener directory for one of their own; chmod go-w (or +t) it, or choose another directory`;
    if (p === '/') return undefined;
  }
}
