// Get/Set Features (NVMe Base 2.0 section 5.27.1): the feature values, their defaults and
// the validity checks each Set Features applies.
import { Feature, NvmeError, Status } from './constants.js';

export interface FeatureLimits {
  maxIoQueues: number; // 1..65535
  msixVectors: number;
  numPowerStates: number; // NPSS + 1
}

/** Identify Controller KAS: Keep Alive Timer granularity in 100 ms units. */
export const KEEP_ALIVE_GRANULARITY_MS = 100;

/** Bytes of the data structure a feature transfers (Get: to the host, Set: from it), or 0. */
export function featureDataBytes(fid: number, dw11: number): number {
  switch (fid) {
    case Feature.TIMESTAMP:
      return 8; // NVMe Base 2.0 Figure 5.27.1.10 (Timestamp data structure)
    case Feature.HOST_BEHAVIOR_SUPPORT:
      return 512; // 5.27.1.18 (Host Behavior Support data structure)
    case Feature.HOST_IDENTIFIER:
      return dw11 & 1 ? 16 : 8; // EXHID: 128-bit or 64-bit
    default:
      return 0;
  }
}

/** Milliseconds of a clock that never goes back (the Timestamp counts on it). */
export function monotonicMs(): number {
  return performance.now();
}

export class FeatureState {
  arbitration = 0;
  powerManagement = 0;
  /** Index sel*2+thsel (sensor 0..8, over/under): default over 343 K (WCTEMP), under 0. */
  tempThresholds = new Map<number, number>();
  errorRecovery = 0;
  volatileWriteCache = 1;
  /** 0-based counts granted by Number of Queues; null until the host sets it. */
  queuesGranted: { nsq: number; ncq: number } | null = null;
  interruptCoalescing = 0;
  /** Vector -> CD bit. The admin vector is never coalesced (NVMe Base 2.0 5.27.1.8): CD=1. */
  ivConfig = new Map<number, number>([[0, 1]]);
  writeAtomicity = 0;
  asyncEventConfig = 0;
  hostId = Buffer.alloc(8);
  hostIdExtended = false;
  /** Keep Alive Timeout in ms, a multiple of the KAS granularity; 0 = disabled. */
  keepAliveTimeoutMs = 0;
  /** Host Behavior Support: ACRE, ETDAS, LBAFEE (bytes 0..2); the rest is reserved. */
  hostBehavior = Buffer.alloc(512);
  /**
   * Timestamp (NVMe Base 2.0 5.27.1.10): `ms` at monotonic time `at` (it counts on from there,
   * so a change of the wall clock does not move it); origin 000b from a Controller Level Reset,
   * 001b set by Set Features; synch 1 when the count may have stopped (a migration whose
   * downtime could not be measured).
   */
  timestamp = { ms: 0n, at: monotonicMs(), origin: 0, synch: 0 };

  constructor(readonly limits: FeatureLimits) {}

  reset(): void {
    // The Host Identifier says which host this controller is to reservations, which a reset
    // keeps (NVMe Base 2.0 8.19): it stays, so a registered host stays itself (and Set
    // Features may not change it while registered).
    const host = { hostId: this.hostId, hostIdExtended: this.hostIdExtended };
    const fresh = new FeatureState(this.limits);
    Object.assign(this, { ...fresh, limits: this.limits, ...host });
    this.tempThresholds = new Map();
    this.ivConfig = new Map([[0, 1]]);
    this.hostBehavior = Buffer.alloc(512);
    this.timestamp = { ms: 0n, at: monotonicMs(), origin: 0, synch: 0 };
  }

  /** The Timestamp field now (ms, 48 bits). */
  timestampNow(): bigint {
    return (this.timestamp.ms + BigInt(Math.max(0, Math.floor(monotonicMs() - this.timestamp.at)))) & 0xffffffffffffn;
  }

  /**
   * Whether the composite temperature is at or beyond a threshold (SMART Critical Warning bit 1,
   * NVMe Base 2.0 5.16.1.3; the event of 5.27.1.4): over >= its threshold or under <= its own.
   */
  temperatureOutOfRange(kelvin: number): boolean {
    const over = this.tempThresholds.get(0) ?? 343;
    const under = this.tempThresholds.get(1) ?? 0;
    return kelvin >= over || kelvin <= under;
  }

  grantedQueues(): { nsq: number; ncq: number } {
    return this.queuesGranted ?? { nsq: this.limits.maxIoQueues - 1, ncq: this.limits.maxIoQueues - 1 };
  }

  private tempKey(dw11: number): number {
    const tmpsel = (dw11 >> 16) & 0xf;
    const thsel = (dw11 >> 20) & 0x3;
    if ((tmpsel > 8 && tmpsel !== 0xf) || thsel > 1) throw new NvmeError(Status.INVALID_FIELD, 'temperature threshold selector');
    return tmpsel * 2 + thsel;
  }

  /** Get Features: returns completion dword 0. `sel` 0 current, 1 default, 2 saved, 3 capabilities. */
  get(fid: number, dw11: number, sel: number): number {
    if (sel === 3) return this.capabilities(fid);
    if (sel === 1 || sel === 2) return new FeatureState(this.limits).get(fid, dw11, 0);
    switch (fid) {
      case Feature.ARBITRATION:
        return this.arbitration;
      case Feature.POWER_MANAGEMENT:
        return this.powerManagement;
      case Feature.TEMPERATURE_THRESHOLD: {
        const key = this.tempKey(dw11);
        return this.tempThresholds.get(key) ?? (key % 2 === 0 ? 343 : 0);
      }
      case Feature.ERROR_RECOVERY:
        return this.errorRecovery;
      case Feature.VOLATILE_WRITE_CACHE:
        return this.volatileWriteCache;
      case Feature.NUMBER_OF_QUEUES: {
        const q = this.grantedQueues();
        return ((q.ncq << 16) | q.nsq) >>> 0;
      }
      case Feature.INTERRUPT_COALESCING:
        return this.interruptCoalescing;
      case Feature.INTERRUPT_VECTOR_CONFIG: {
        const iv = dw11 & 0xffff;
        if (iv >= this.limits.msixVectors) throw new NvmeError(Status.INVALID_FIELD, `interrupt vector ${iv}`);
        return iv | ((this.ivConfig.get(iv) ?? 0) << 16);
      }
      case Feature.WRITE_ATOMICITY:
        return this.writeAtomicity;
      case Feature.ASYNC_EVENT_CONFIG:
        return this.asyncEventConfig;
      case Feature.HOST_IDENTIFIER:
        return this.hostIdExtended ? 1 : 0;
      case Feature.TIMESTAMP:
      case Feature.HOST_BEHAVIOR_SUPPORT:
        return 0; // the value is the data structure (data())
      case Feature.KEEP_ALIVE_TIMER:
        return this.keepAliveTimeoutMs;
      default:
        throw new NvmeError(Status.INVALID_FIELD, `feature 0x${fid.toString(16)} is not supported`);
    }
  }

  /** The data structure Get Features returns for `fid` (SEL 0, 1 or 2), or null if it has none. */
  data(fid: number, dw11: number, sel: number): Buffer | null {
    if (sel === 1 || sel === 2) return new FeatureState(this.limits).data(fid, dw11, 0);
    switch (fid) {
      case Feature.TIMESTAMP: {
        const b = Buffer.alloc(8);
        b.writeUIntLE(Number(this.timestampNow()), 0, 6);
        b[6] = (this.timestamp.origin << 1) | this.timestamp.synch; // byte 6: Timestamp Origin 3:1, Synch 0
        return b;
      }
      case Feature.HOST_BEHAVIOR_SUPPORT:
        return Buffer.from(this.hostBehavior);
      case Feature.HOST_IDENTIFIER:
        return this.hostIdExtended ? Buffer.concat([this.hostId, Buffer.alloc(16)]).subarray(0, 16) : Buffer.from(this.hostId.subarray(0, 8));
      default:
        return null;
    }
  }

  private capabilities(fid: number): number {
    this.get(fid, 0, 1); // unsupported features fail the same way
    return 0x4; // changeable, not saveable, not namespace specific
  }

  /** Set Features: applies and returns completion dword 0. `ioQueuesExist` for Number of Queues. */
  set(fid: number, dw11: number, opts: { save: boolean; ioQueuesExist: boolean; data?: Buffer }): number {
    if (opts.save) throw new NvmeError(Status.FEATURE_NOT_SAVEABLE);
    switch (fid) {
      case Feature.ARBITRATION:
        this.arbitration = dw11 >>> 0;
        return 0;
      case Feature.POWER_MANAGEMENT: {
        const ps = dw11 & 0x1f;
        if (ps >= this.limits.numPowerStates) throw new NvmeError(Status.INVALID_FIELD, `power state ${ps}`);
        this.powerManagement = dw11 & 0xff;
        return 0;
      }
      case Feature.TEMPERATURE_THRESHOLD:
        this.tempThresholds.set(this.tempKey(dw11), dw11 & 0xffff);
        return 0;
      case Feature.ERROR_RECOVERY:
        if (dw11 & (1 << 16)) throw new NvmeError(Status.INVALID_FIELD, 'DULBE is not supported');
        this.errorRecovery = dw11 & 0xffff;
        return 0;
      case Feature.VOLATILE_WRITE_CACHE:
        this.volatileWriteCache = dw11 & 1;
        return 0;
      case Feature.NUMBER_OF_QUEUES: {
        const nsqr = dw11 & 0xffff;
        const ncqr = dw11 >>> 16;
        if (nsqr === 0xffff || ncqr === 0xffff) throw new NvmeError(Status.INVALID_FIELD, '65535 queues requested');
        if (opts.ioQueuesExist) throw new NvmeError(Status.COMMAND_SEQUENCE_ERROR, 'Number of Queues after I/O queues were created');
        const max = this.limits.maxIoQueues - 1;
        this.queuesGranted = { nsq: Math.min(nsqr, max), ncq: Math.min(ncqr, max) };
        return ((this.queuesGranted.ncq << 16) | this.queuesGranted.nsq) >>> 0;
      }
      case Feature.INTERRUPT_COALESCING:
        this.interruptCoalescing = dw11 & 0xffff;
        return 0;
      case Feature.INTERRUPT_VECTOR_CONFIG: {
        const iv = dw11 & 0xffff;
        if (iv >= this.limits.msixVectors) throw new NvmeError(Status.INVALID_FIELD, `interrupt vector ${iv}`);
        if (iv === 0 && !(dw11 & (1 << 16))) throw new NvmeError(Status.INVALID_FIELD, 'the admin vector is never coalesced: CD must stay 1');
        this.ivConfig.set(iv, (dw11 >> 16) & 1);
        return 0;
      }
      case Feature.WRITE_ATOMICITY:
        this.writeAtomicity = dw11 & 1;
        return 0;
      case Feature.ASYNC_EVENT_CONFIG:
        this.asyncEventConfig = dw11 >>> 0;
        return 0;
      case Feature.HOST_IDENTIFIER:
        if (opts.data) {
          this.hostIdExtended = (dw11 & 1) === 1;
          this.hostId = Buffer.from(opts.data);
        }
        return 0;
      case Feature.KEEP_ALIVE_TIMER: {
        // KATO in ms, rounded up to the KAS granularity (NVMe Base 2.0 5.27.1.12).
        const g = KEEP_ALIVE_GRANULARITY_MS;
        this.keepAliveTimeoutMs = Math.min(Math.ceil((dw11 >>> 0) / g) * g, 0xffffffff - (0xffffffff % g));
        return 0;
      }
      case Feature.TIMESTAMP: {
        if (!opts.data) throw new NvmeError(Status.INVALID_FIELD, 'Timestamp without its data');
        // Bytes 5:0; the attributes in byte 6 are the controller's to report (ignored here).
        this.timestamp = { ms: BigInt(opts.data.readUIntLE(0, 6)), at: monotonicMs(), origin: 1, synch: 0 };
        return 0;
      }
      case Feature.HOST_BEHAVIOR_SUPPORT: {
        const d = opts.data;
        if (!d) throw new NvmeError(Status.INVALID_FIELD, 'Host Behavior Support without its data');
        // ACRE, ETDAS, LBAFEE are each 0 or 1; later bytes are reserved here and read back 0.
        for (const [i, name] of ['ACRE', 'ETDAS', 'LBAFEE'].entries()) if (d[i]! > 1) throw new NvmeError(Status.INVALID_FIELD, `Host Behavior Support ${name} ${d[i]}`);
        const hb = Buffer.alloc(512);
        d.copy(hb, 0, 0, 3);
        this.hostBehavior = hb;
        return 0;
      }
      default:
        throw new NvmeError(Status.INVALID_FIELD, `feature 0x${fid.toString(16)} is not supported`);
    }
  }
}
