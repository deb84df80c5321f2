// Get/Set Features (NVMe Base 2.0 section 5.27.1): the feature values, their defaults and
// the validity checks each Set Features applies.
import { Feature, NvmeError, Status } from './constants.js';

export interface FeatureLimits {
  maxIoQueues: number; // 1..65535
  msixVectors: number;
  numPowerStates: number; // NPSS + 1
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

  constructor(readonly limits: FeatureLimits) {}

  reset(): void {
    const fresh = new FeatureState(this.limits);
    Object.assign(this, { ...fresh, limits: this.limits });
    this.tempThresholds = new Map();
    this.ivConfig = new Map([[0, 1]]);
    this.hostId = Buffer.alloc(8);
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
      default:
        throw new NvmeError(Status.INVALID_FIELD, `feature 0x${fid.toString(16)} is not supported`);
    }
  }

  private capabilities(fid: number): number {
    this.get(fid, 0, 1); // unsupported features fail the same way
    return 0x4; // changeable, not saveable, not namespace specific
  }

  /** Set Features: applies and returns completion dword 0. `ioQueuesExist` for Number of Queues. */
  set(fid: number, dw11: number, opts: { save: boolean; ioQueuesExist: boolean; hostId?: Buffer }): number {
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
        if (opts.hostId) {
          this.hostIdExtended = (dw11 & 1) === 1;
          this.hostId = Buffer.from(opts.hostId);
        }
        return 0;
      default:
        throw new NvmeError(Status.INVALID_FIELD, `feature 0x${fid.toString(16)} is not supported`);
    }
  }
}
