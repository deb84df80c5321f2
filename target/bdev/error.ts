// bdev_error: SPDK's error-injecting bdev, stacked on a base bdev and named EE_<base>.
//
// bdev_error_inject_error arms one rule per I/O type (read, write, unmap, flush; 'all' arms
// every type, 'clear' disarms all). A rule fails the next `num` matching I/Os (SPDK), or, with
// our `every` extension, every Nth matching I/O until `num` have failed; our `lba_start` /
// `lba_count` extension limits it to I/Os touching that LBA range. Error types as SPDK's:
// failure (Internal Device Error), nvme_failure (the chosen SCT/SC), corrupt_data (XOR a byte
// of the data written, or of the data read), nomem (the I/O is retried after a short wait, as
// SPDK's bdev layer retries NOMEM), pending (held until bdev_error_resume_pending).
import { Bdev, BdevIoError, NvmeStatusCode } from './bdev.js';
import { NVME_SC, StackedBdev } from './base.js';

export const ERROR_IO_TYPES = ['read', 'write', 'unmap', 'flush'] as const;
export type ErrorIoType = (typeof ERROR_IO_TYPES)[number];
export const ERROR_TYPES = ['failure', 'nvme_failure', 'pending', 'corrupt_data', 'nomem'] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export interface ErrorRule {
  errorType: ErrorType;
  /** Errors left to inject; 0 disarms the rule. */
  remaining: number;
  /** Inject only while at least this many I/Os are outstanding (SPDK queue_depth); 0 = always. */
  queueDepth: number;
  status: NvmeStatusCode;
  corruptOffset: number;
  corruptValue: number;
  /** Fail every Nth matching I/O (1 = each one). */
  every: number;
  lbaStart?: number;
  lbaCount?: number;
  /** Matching I/Os seen since the rule was armed. */
  seen: number;
  injected: number;
}

export type ErrorRuleInput = Partial<Omit<ErrorRule, 'seen' | 'injected'>> & { errorType: ErrorType };

const NOMEM_RETRY_MS = 1;

export class ErrorBdev extends StackedBdev {
  readonly productName = 'Error disk';
  private readonly rules = new Map<ErrorIoType, ErrorRule>();
  private readonly pending: Array<() => void> = [];

  constructor(base: Bdev, uuid?: string) {
    super(`EE_${base.name}`, base, uuid);
  }

  /** Arms (or with 'clear', disarms) the rule for one I/O type or all of them. */
  inject(ioType: ErrorIoType | 'all' | 'clear', rule?: ErrorRuleInput): void {
    if (ioType === 'clear') {
      this.rules.clear();
      return;
    }
    if (!rule) throw new Error('an error rule is required');
    const full: ErrorRule = {
      remaining: 1,
      queueDepth: 0,
      status: { sct: 0, sc: NVME_SC.INTERNAL_DEVICE_ERROR },
      corruptOffset: 0,
      corruptValue: 0,
      every: 1,
      ...rule,
      seen: 0,
      injected: 0,
    };
    for (const t of ioType === 'all' ? ERROR_IO_TYPES : [ioType]) this.rules.set(t, { ...full });
  }

  /** Completes every I/O held by a 'pending' rule (bdev_error_resume_pending). */
  resumePending(): number {
    const n = this.pending.length;
    for (const resume of this.pending.splice(0)) resume();
    return n;
  }

  ruleFor(ioType: ErrorIoType): Readonly<ErrorRule> | undefined {
    return this.rules.get(ioType);
  }

  /** Decides whether this I/O gets the rule's error; counts it if so. */
  private take(ioType: ErrorIoType, lba?: number, blocks?: number): ErrorRule | undefined {
    const r = this.rules.get(ioType);
    if (!r || r.remaining <= 0) return undefined;
    if (r.lbaStart !== undefined && lba !== undefined && blocks !== undefined) {
      const end = r.lbaCount !== undefined ? r.lbaStart + r.lbaCount : Infinity;
      if (lba + blocks <= r.lbaStart || lba >= end) return undefined;
    }
    // inFlight already counts this I/O (BaseBdev increments before calling do*).
    if (r.queueDepth && this.inFlight < r.queueDepth) return undefined;
    r.seen++;
    if (r.seen % r.every !== 0) return undefined;
    r.remaining--;
    r.injected++;
    return r;
  }

  private async fail(r: ErrorRule, what: string): Promise<void> {
    switch (r.errorType) {
      case 'failure':
        throw new BdevIoError(`${this.name}: injected failure of ${what}`, { sct: 0, sc: NVME_SC.INTERNAL_DEVICE_ERROR });
      case 'nvme_failure':
        throw new BdevIoError(`${this.name}: injected NVMe status ${r.status.sct}/${r.status.sc} for ${what}`, r.status);
      case 'nomem':
        await new Promise((res) => setTimeout(res, NOMEM_RETRY_MS));
        return;
      case 'pending':
        await new Promise<void>((res) => this.pending.push(res));
        return;
      case 'corrupt_data':
        return; // handled by the data path
    }
  }

  private corrupt(data: Buffer, r: ErrorRule): Buffer {
    const out = Buffer.from(data);
    if (out.length) out[r.corruptOffset % out.length] ^= r.corruptValue;
    return out;
  }

  protected override async doRead(lba: number, blocks: number): Promise<Buffer> {
    const r = this.take('read', lba, blocks);
    if (r) await this.fail(r, `read of LBA ${lba}+${blocks}`);
    const data = await super.doRead(lba, blocks);
    return r?.errorType === 'corrupt_data' ? this.corrupt(data, r) : data;
  }

  protected override async doWrite(lba: number, data: Buffer): Promise<void> {
    const blocks = data.length / this.blockSize;
    const r = this.take('write', lba, blocks);
    if (r) await this.fail(r, `write of LBA ${lba}+${blocks}`);
    return super.doWrite(lba, r?.errorType === 'corrupt_data' ? this.corrupt(data, r) : data);
  }

  protected override async doFlush(): Promise<void> {
    const r = this.take('flush');
    if (r) await this.fail(r, 'flush');
    return super.doFlush();
  }

  protected override async doUnmap(lba: number, blocks: number): Promise<void> {
    const r = this.take('unmap', lba, blocks);
    if (r) await this.fail(r, `unmap of LBA ${lba}+${blocks}`);
    return super.doUnmap(lba, blocks);
  }

  /** Write Zeroes is a write for injection purposes. */
  protected override async doWriteZeroes(lba: number, blocks: number): Promise<void> {
    const r = this.take('write', lba, blocks);
    if (r && r.errorType !== 'corrupt_data') await this.fail(r, `write zeroes of LBA ${lba}+${blocks}`);
    return super.doWriteZeroes(lba, blocks);
  }

  driverSpecific(): Record<string, unknown> {
    const rules: Record<string, unknown> = {};
    for (const [t, r] of this.rules)
      rules[t] = { error_type: r.errorType, remaining: r.remaining, injected: r.injected, every: r.every, sct: r.status.sct, sc: r.status.sc };
    return { error: { base_bdev: this.base.name, rules, pending_ios: this.pending.length } };
  }

  override async close(): Promise<void> {
    this.rules.clear();
    this.resumePending();
  }
}
