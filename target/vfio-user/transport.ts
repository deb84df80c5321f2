// Message transports: how vfio-user messages (each a whole Buffer plus the fds that came
// with it) move between the two ends. The protocol code talks to `MessageTransport` only;
// `SocketTransport` is the UNIX-socket implementation over the native Channel.
import { existsSync, lstatSync, chmodSync, chownSync, unlinkSync } from 'node:fs';
import { native, errnoOf, type NativeChannel, type NativeEngine, type NativeListener } from '../../native/index.js';

export interface MessageTransport {
  send(msg: Buffer, fds?: number[]): void;
  close(): void;
  setMaxMessageSize(size: number): void;
  /** fds one message may carry: more are closed on arrival, and onMessage gets their count. */
  setMaxFds(count: number): void;
  /** ms since the first byte of an unfinished incoming message arrived (0 between messages). */
  readonly partialAge: number;
  /** Register writes served below JavaScript (see NativeChannel.setFastWrites); optional. */
  setFastWrites?(f: FastWrites | null): void;
  setFastWritesEnabled?(on: boolean): void;
  /** Writes served below JavaScript so far. */
  readonly fastWrites?: number;
  /** Stop/restart delivering messages (back-pressure while a command is processed). */
  pause(): void;
  resume(): void;
  readonly closed: boolean;
}

/** A device register range whose 4-byte writes native code serves (NVMe doorbells). */
export interface FastWrites {
  sink: NativeEngine;
  region: number;
  base: bigint;
  size: number;
}

export interface TransportHandlers {
  /** `droppedFds`: fds beyond the per-message limit, already closed. */
  onMessage(msg: Buffer, fds: number[], droppedFds: number): void;
  onClose(reason: string): void;
}

export class SocketTransport implements MessageTransport {
  private channel: NativeChannel;
  closed = false;

  constructor(fd: number, handlers: TransportHandlers) {
    this.channel = new native.Channel(
      fd,
      (msg, fds, dropped) => handlers.onMessage(msg, fds, dropped),
      (reason) => {
        this.closed = true;
        handlers.onClose(reason);
      },
    );
  }

  static connect(path: string, handlers: TransportHandlers): SocketTransport {
    return new SocketTransport(native.connectUnix(path), handlers);
  }

  get fd(): number {
    return this.channel.fd;
  }

  send(msg: Buffer, fds: number[] = []): void {
    this.channel.send(msg, fds);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.close();
  }
  setMaxMessageSize(size: number): void {
    this.channel.setMaxMessageSize(size);
  }
  setMaxFds(count: number): void {
    this.channel.setMaxFds(count);
  }
  setFastWrites(f: FastWrites | null): void {
    if (this.closed) return;
    if (f) this.channel.setFastWrites(f.sink, f.region, f.base, f.size);
    else this.channel.setFastWrites(null, 0, 0n, 0);
  }
  setFastWritesEnabled(on: boolean): void {
    if (!this.closed) this.channel.setFastWritesEnabled(on);
  }
  /** Writes the channel served natively. */
  get fastWrites(): number {
    return this.channel.fastWrites;
  }
  get partialAge(): number {
    return this.closed ? 0 : this.channel.partialAge;
  }
  pause(): void {
    this.channel.pause();
  }
  resume(): void {
    this.channel.resume();
  }
}

export interface SocketOptions {
  /** File mode of the socket; 0600 by default (only the owner may connect). */
  mode?: number;
  /** Owner and group to give the socket (QEMU under libvirt runs as another user). */
  uid?: number;
  gid?: number;
}

/**
 * A listening UNIX socket that hands out one connection at a time. A stale socket file
 * (nothing accepts on it) is replaced; a path a live server owns is refused.
 */
export class SocketListener {
  private listener: NativeListener;
  readonly path: string;

  constructor(path: string, opts: SocketOptions, onConnection: (fd: number) => void) {
    this.path = path;
    if (existsSync(path) || isDanglingSocket(path)) {
      const st = lstatSync(path);
      if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; remove it or choose another path`);
      let live = false;
      try {
        native.closeFd(native.connectUnix(path));
        live = true;
      } catch (err) {
        if (errnoOf(err) !== 111 /* ECONNREFUSED */ && errnoOf(err) !== 2) throw err;
      }
      if (live) throw Object.assign(new Error(`${path} is in use by a running server`), { errno: 98 /* EADDRINUSE */ });
      unlinkSync(path);
    }
    // Owner and group first, then the mode: no moment where more users than asked may connect.
    const chown = opts.uid !== undefined || opts.gid !== undefined;
    const fd = native.listenUnix(path, chown ? 0o600 : (opts.mode ?? 0o600));
    try {
      if (chown) {
        chownSync(path, opts.uid ?? -1, opts.gid ?? -1);
        chmodSync(path, opts.mode ?? 0o600);
      }
      this.listener = new native.Listener(fd, onConnection);
    } catch (err) {
      // Neither the listening fd nor a socket file nobody serves may outlive the failure.
      native.closeFd(fd);
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
      throw err;
    }
  }

  /** Accept the next connection (the native side stops after each accept). */
  accept(): void {
    this.listener.start();
  }
  stopAccepting(): void {
    this.listener.stop();
  }
  close(): void {
    this.listener.close();
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}

function isDanglingSocket(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
