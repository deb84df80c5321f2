// The vfio-user migration v2 device state machine (vfio-user spec "Migration", Linux
// vfio.h `enum vfio_device_mig_state`), as data: next_state[from][to] gives the next hop on
// the shortest path from `from` to `to`, exactly as libvfio-user lib/migration.c encodes it.
// Arcs the device implements directly: RUNNING->STOP, STOP->RUNNING, STOP->STOP_COPY,
// STOP_COPY->STOP, STOP->RESUMING, RESUMING->STOP, RUNNING->PRE_COPY, PRE_COPY->RUNNING,
// PRE_COPY->STOP_COPY. A path never passes through a saving state as an interior node, and
// STOP_COPY->PRE_COPY is forbidden. ERROR is left only by a device reset.
// Migration v1's device_state bits (RUNNING 1, SAVING 2, RESUMING 4) map onto these states.

export enum MigState {
  ERROR = 0,
  STOP = 1,
  RUNNING = 2,
  STOP_COPY = 3,
  RESUMING = 4,
  RUNNING_P2P = 5,
  PRE_COPY = 6,
  PRE_COPY_P2P = 7,
}

export const STATE_NAMES: Record<number, string> = {
  0: 'ERROR',
  1: 'STOP',
  2: 'RUNNING',
  3: 'STOP_COPY',
  4: 'RESUMING',
  5: 'RUNNING_P2P',
  6: 'PRE_COPY',
  7: 'PRE_COPY_P2P',
};

export function stateName(s: number): string {
  return STATE_NAMES[s] ?? `state ${s}`;
}

const { ERROR: E, STOP: S, RUNNING: R, STOP_COPY: C, RESUMING: M, PRE_COPY: P } = MigState;

/** Supported states (no P2P: vfio-user has no peer-to-peer quiescing). */
export const SUPPORTED_STATES: readonly MigState[] = [E, S, R, C, M, P];

/**
 * next_state[from][to]: the state to move to next; ERROR marks a transition that is not
 * allowed. Rows and columns are ERROR, STOP, RUNNING, STOP_COPY, RESUMING, (P2P), PRE_COPY.
 */
const NEXT: Partial<Record<MigState, Partial<Record<MigState, MigState>>>> = {
  [S]: { [S]: S, [R]: R, [C]: C, [M]: M, [P]: R, [E]: E },
  [R]: { [S]: S, [R]: R, [C]: S, [M]: S, [P]: P, [E]: E },
  [C]: { [S]: S, [R]: S, [C]: C, [M]: S, [P]: E, [E]: E },
  [M]: { [S]: S, [R]: S, [C]: S, [M]: M, [P]: S, [E]: E },
  [P]: { [S]: R, [R]: R, [C]: C, [M]: R, [P]: P, [E]: E },
  [E]: { [S]: E, [R]: E, [C]: E, [M]: E, [P]: E, [E]: E },
};

/** The arcs a device must implement as single steps. */
export const DIRECT_ARCS: readonly [MigState, MigState][] = [
  [R, S],
  [S, R],
  [S, C],
  [C, S],
  [S, M],
  [M, S],
  [R, P],
  [P, R],
  [P, C],
];

export function isSupported(s: number): s is MigState {
  return (SUPPORTED_STATES as number[]).includes(s);
}

/** Next hop from `from` towards `to`, or null if `to` cannot be reached from `from`. */
export function nextState(from: MigState, to: MigState): MigState | null {
  if (!isSupported(from) || !isSupported(to)) return null;
  if (from === to) return from;
  const n = NEXT[from]?.[to];
  if (n === undefined || (n === E && to !== E) || from === E) return null;
  return n;
}

/**
 * The full path of single arcs from `from` to `to` (excluding `from`), or null when the
 * transition is not allowed. A request for ERROR is never a valid target from the client.
 */
export function transitionPath(from: MigState, to: MigState): MigState[] | null {
  if (to === E || from === E || !isSupported(to) || !isSupported(from)) return null;
  const path: MigState[] = [];
  let at: MigState = from;
  while (at !== to) {
    const n = nextState(at, to);
    if (n === null || n === at) return null;
    path.push(n);
    at = n;
    if (path.length > 4) return null; // the table never needs more than 2 hops
  }
  return path;
}

// ------------------------------------------------------------------ migration v1 (device_state bits)

export const V1_RUNNING = 1;
export const V1_SAVING = 2;
export const V1_RESUMING = 4;
export const V1_MASK = 7;

/** v1 device_state -> v2 state; null for an invalid combination (e.g. SAVING|RESUMING). */
export function fromV1(bits: number): MigState | null {
  switch (bits & 0xffffffff) {
    case 0:
      return S;
    case V1_RUNNING:
      return R;
    case V1_SAVING:
      return C;
    case V1_RUNNING | V1_SAVING:
      return P;
    case V1_RESUMING:
      return M;
    case V1_SAVING | V1_RESUMING:
      return E; // 110: the v1 error state (read-only; a client may not set it)
    default:
      return null;
  }
}

export function toV1(s: MigState): number {
  switch (s) {
    case S:
      return 0;
    case R:
      return V1_RUNNING;
    case C:
      return V1_SAVING;
    case P:
      return V1_RUNNING | V1_SAVING;
    case M:
      return V1_RESUMING;
    default:
      return V1_SAVING | V1_RESUMING;
  }
}
