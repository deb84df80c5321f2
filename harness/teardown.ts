// Clean teardown on success, failure and Ctrl-C: every process the harness spawns and every
// mount or reservation it makes registers an undo action here. On SIGINT/SIGTERM the actions
// run newest first, then the process exits with the conventional 128+signal status.
// Only processes this harness started are signalled, each by its own pid.

type Cleanup = {
  name: string;
  run: () => void | Promise<void>;
  /** What can still be done synchronously when the process exits without running `run`. */
  runSync?: () => void;
};

const cleanups = new Set<Cleanup>();
const children = new Map<number, string>();
let installed = false;
let exiting = false;

function killChildren(signal: NodeJS.Signals): void {
  for (const pid of children.keys()) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

async function runAll(): Promise<void> {
  const list = [...cleanups].reverse();
  cleanups.clear();
  for (const c of list) {
    try {
      await c.run();
    } catch (err) {
      process.stderr.write(`[vnvme] cleanup "${c.name}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (exiting) return;
  exiting = true;
  process.stderr.write(`\n[vnvme] ${signal}: tearing down (${cleanups.size} cleanup actions, ${children.size} child processes)\n`);
  killChildren('SIGTERM');
  void runAll().finally(() => {
    killChildren('SIGKILL');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort on any exit (uncaught error, process.exit): kill the children we still track,
  // then the synchronous undo actions (lazy unmounts, hugepage counts).
  process.on('exit', () => {
    killChildren('SIGKILL');
    for (const c of [...cleanups].reverse()) {
      try {
        c.runSync?.();
      } catch {
        /* best effort at exit */
      }
    }
  });
}

/** Tracks a spawned child so Ctrl-C ends it; returns the function that stops tracking it. */
export function registerChild(pid: number, what: string): () => void {
  install();
  children.set(pid, what);
  return () => {
    children.delete(pid);
  };
}

/** Registers an undo action (unmount, release, remove); returns the function that unregisters it. */
export function registerCleanup(name: string, run: () => void | Promise<void>, runSync?: () => void): () => void {
  install();
  const c: Cleanup = { name, run, runSync };
  cleanups.add(c);
  return () => {
    cleanups.delete(c);
  };
}
