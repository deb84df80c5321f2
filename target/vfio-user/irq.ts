// Interrupts: per IRQ index (INTx, MSI, MSI-X, ERR, REQ) the eventfds the client assigned
// with DEVICE_SET_IRQS, their mask state and pending bits. Raising an interrupt writes the
// vector's eventfd (typically a KVM irqfd in QEMU).
import { native } from '../../native/index.js';
import {
  Errno,
  IRQ_SET_ACTION_MASK,
  IRQ_SET_ACTION_TRIGGER,
  IRQ_SET_ACTION_UNMASK,
  IRQ_SET_DATA_BOOL,
  IRQ_SET_DATA_EVENTFD,
  IRQ_SET_DATA_NONE,
  WireError,
  type SetIrqs,
} from './wire.js';

interface Vector {
  fd: number | null;
  masked: boolean;
  pending: boolean;
}

export class IrqTable {
  private readonly vectors: Vector[][];
  /** Called after any eventfd assignment changes (the I/O engine caches vector fds). */
  onChange?: () => void;

  constructor(readonly counts: number[]) {
    this.vectors = counts.map((n) => Array.from({ length: n }, () => ({ fd: null, masked: false, pending: false })));
  }

  count(index: number): number {
    return this.counts[index] ?? 0;
  }

  /** Applies a SET_IRQS request. Takes ownership of `fds` (closes them on error). */
  apply(req: SetIrqs, fds: number[]): void {
    try {
      this.applyUnsafe(req, fds);
    } catch (err) {
      for (const fd of fds) closeQuietly(fd);
      throw err;
    }
    // The fds are stored now: a failure from here on must not close them.
    this.onChange?.();
  }

  private applyUnsafe(req: SetIrqs, fds: number[]): void {
    const { index, start, count, flags } = req;
    const n = this.count(index);
    if (index >= this.counts.length) throw new WireError(Errno.EINVAL, `SET_IRQS: no IRQ index ${index}`);
    const data = flags & (IRQ_SET_DATA_NONE | IRQ_SET_DATA_BOOL | IRQ_SET_DATA_EVENTFD);
    const action = flags & (IRQ_SET_ACTION_MASK | IRQ_SET_ACTION_UNMASK | IRQ_SET_ACTION_TRIGGER);
    if (popcount(data) !== 1 || popcount(action) !== 1 || flags & ~0x3f)
      throw new WireError(Errno.EINVAL, `SET_IRQS: flags 0x${flags.toString(16)} need exactly one DATA_ and one ACTION_ bit`);
    if (data !== IRQ_SET_DATA_EVENTFD && fds.length)
      throw new WireError(Errno.EINVAL, 'SET_IRQS: file descriptors sent without DATA_EVENTFD');
    // count 0 with DATA_NONE|ACTION_TRIGGER disables the whole index.
    if (count === 0) {
      if (data === IRQ_SET_DATA_NONE && action === IRQ_SET_ACTION_TRIGGER && start === 0) {
        this.disable(index);
        return;
      }
      throw new WireError(Errno.EINVAL, 'SET_IRQS: count 0 is only valid to disable an index (DATA_NONE|ACTION_TRIGGER, start 0)');
    }
    if (start >= n || count > n - start)
      throw new WireError(Errno.EINVAL, `SET_IRQS: vectors ${start}..${start + count - 1} outside index ${index} (${n} vectors)`);
    const vs = this.vectors[index]!;
    if (data === IRQ_SET_DATA_EVENTFD) {
      if (action !== IRQ_SET_ACTION_TRIGGER) throw new WireError(Errno.EINVAL, 'SET_IRQS: eventfds only with ACTION_TRIGGER');
      if (fds.length !== 0 && fds.length !== count)
        throw new WireError(Errno.EINVAL, `SET_IRQS: ${fds.length} eventfds for ${count} vectors`);
      for (const fd of fds) {
        try {
          native.eventfdAdopt(fd);
        } catch (err) {
          throw new WireError(Errno.EINVAL, `SET_IRQS: fd is not a usable eventfd (${(err as Error).message})`);
        }
      }
      for (let i = 0; i < count; i++) {
        const v = vs[start + i]!;
        if (v.fd !== null) closeQuietly(v.fd);
        v.fd = fds.length ? fds[i]! : null; // no fds: de-assign
      }
      return;
    }
    let selected: boolean[];
    if (data === IRQ_SET_DATA_BOOL) {
      if (req.data.length < count) throw new WireError(Errno.EINVAL, `SET_IRQS: ${req.data.length} bool bytes for ${count} vectors`);
      selected = Array.from({ length: count }, (_, i) => req.data[i] !== 0);
    } else selected = Array.from({ length: count }, () => true);
    for (let i = 0; i < count; i++) {
      if (!selected[i]) continue;
      const vi = start + i;
      const v = vs[vi]!;
      if (action === IRQ_SET_ACTION_MASK) v.masked = true;
      else if (action === IRQ_SET_ACTION_UNMASK) {
        v.masked = false;
        if (v.pending) this.trigger(index, vi);
      } else this.trigger(index, vi);
    }
  }

  /** Raises vector `vector` of `index`; a masked or unassigned vector is left pending. */
  trigger(index: number, vector: number): boolean {
    const v = this.vectors[index]?.[vector];
    if (!v) return false;
    if (v.masked || v.fd === null) {
      v.pending = true;
      return false;
    }
    v.pending = false;
    try {
      native.eventfdSignal(v.fd);
      return true;
    } catch {
      return false; // a broken fd from the client must not take the device down
    }
  }

  fd(index: number, vector: number): number | null {
    return this.vectors[index]?.[vector]?.fd ?? null;
  }

  pending(index: number, vector: number): boolean {
    return this.vectors[index]?.[vector]?.pending ?? false;
  }

  setPending(index: number, vector: number): void {
    const v = this.vectors[index]?.[vector];
    if (v) v.pending = true;
  }

  clearPending(index: number, vector: number): void {
    const v = this.vectors[index]?.[vector];
    if (v) v.pending = false;
  }

  /** PBA-style bitmap of pending vectors for an index. */
  pendingBits(index: number): Buffer {
    const vs = this.vectors[index] ?? [];
    const out = Buffer.alloc(Math.ceil(vs.length / 64) * 8);
    vs.forEach((v, i) => {
      if (v.pending) out[i >> 3]! |= 1 << (i & 7);
    });
    return out;
  }

  disable(index: number): void {
    for (const v of this.vectors[index] ?? []) {
      if (v.fd !== null) closeQuietly(v.fd);
      v.fd = null;
      v.masked = false;
      v.pending = false;
    }
  }

  /** Client gone: close every eventfd it gave us. */
  reset(): void {
    for (let i = 0; i < this.vectors.length; i++) this.disable(i);
    this.onChange?.();
  }
}

function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

export function closeQuietly(fd: number): void {
  try {
    native.closeFd(fd);
  } catch {
    /* already closed */
  }
}
