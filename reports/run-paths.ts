// Text that names one run's own places: its scratch directories (mkdtemp's /tmp/vnvme-sc-0nv4ta)
// and its guests (sc-<scenario>-<label>-<pid>, whose per-VM directories hold hugetlbfs mounts,
// sockets, serial logs). Two runs of the same code never agree on these, so the runner's
// environment and the viewer's diff compare them with the varying part replaced by "*". Pure.

/** mkdtemp's six random characters after a "-"-ended prefix under /tmp. */
const TMP_DIR = /(\/tmp\/[\w.]+(?:-[\w.]+)*-)[A-Za-z0-9]{6}(?=[/\s'",:;)\]}]|$)/g;
/** A scenario guest's name: sc-<scenario>-<label>-<pid> (harness/runner/context.ts). */
const GUEST_NAME = /\b(sc-[a-z0-9][\w.-]*?-)\d+(?=[/\s'",:;)\]}]|$)/g;

/** The text with the run-specific parts of paths and guest names replaced by "*". */
export function runIndependent(s: string): string {
  return s.replace(TMP_DIR, '$1*').replace(GUEST_NAME, '$1*');
}
