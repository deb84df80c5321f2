// Shared helpers for RPC tests: an in-process target on a temporary socket, and a raw
// connection that sends bytes and collects reply values.
import { connect, Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SavedConfig, TargetDaemon } from '../../target/daemon.js';
import { Logger } from '../../target/log.js';
import { JsonValueScanner } from '../../target/rpc/jsonrpc.js';
import { endpointFactory } from './stub-endpoint.js';

export interface TestTarget {
  daemon: TargetDaemon;
  dir: string;
  sock: string;
  logs: string[];
  stop(): Promise<void>;
}

/** A target on a temporary socket; listeners use the stub endpoint unless `realEndpoint`. */
export async function startTarget(opts: { config?: string | SavedConfig; realEndpoint?: boolean } = {}): Promise<TestTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-rpc-'));
  const sock = join(dir, 'spdk.sock');
  const logs: string[] = [];
  const log = Logger.create({ level: 'info', sink: { write: (l) => logs.push(l) } });
  const daemon = await TargetDaemon.start({ rpcSocket: sock, log, config: opts.config, endpointFactory: opts.realEndpoint ? undefined : endpointFactory });
  return {
    daemon,
    dir,
    sock,
    logs,
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export class RawConnection {
  readonly values: unknown[] = [];
  readonly raw: Buffer[] = [];
  private readonly scanner = new JsonValueScanner();
  readonly closed: Promise<void>;
  private wake?: () => void;

  private constructor(readonly sock: Socket) {
    sock.on('data', (c) => {
      this.raw.push(c);
      this.scanner.push(c);
      for (let r = this.scanner.next(); r; r = this.scanner.next()) if ('text' in r) this.values.push(JSON.parse(r.text));
      this.wake?.();
    });
    this.closed = new Promise((res) => sock.on('close', () => res()));
    sock.on('error', () => {});
  }

  static open(path: string): Promise<RawConnection> {
    return new Promise((res, rej) => {
      const s = connect(path);
      s.once('error', rej);
      s.once('connect', () => res(new RawConnection(s)));
    });
  }

  send(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Waits until at least n reply values arrived (or timeout). */
  async waitFor(n: number, ms = 3000): Promise<unknown[]> {
    const deadline = Date.now() + ms;
    while (this.values.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} replies, have ${JSON.stringify(this.values)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.values;
  }

  text(): string {
    return Buffer.concat(this.raw).toString();
  }

  close(): void {
    this.sock.destroy();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
