// Checking what a user pointed us at before connecting: a traddr is the endpoint *directory*
// (SPDK's layout, socket DIR/cntrl), a --socket is the socket *file* DIR/cntrl. The common
// mistakes (a directory for a socket, DIR/cntrl for a traddr, a stale socket, nothing there)
// each get one line that says what to pass instead.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { socketAnswers } from '../../target/nvmf/target.js';

/** A mistake in what the user passed: printed as one line, exit status 2 (a usage error). */
export class EndpointError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

function kind(path: string): 'missing' | 'dir' | 'socket' | 'other' {
  if (!existsSync(path)) return 'missing';
  const st = statSync(path);
  if (st.isDirectory()) return 'dir';
  if (st.isSocket()) return 'socket';
  return 'other';
}

/** For `-r 'trtype:VFIOUSER traddr:DIR'`: DIR must be an endpoint directory holding a live `cntrl`. */
export async function checkTraddr(traddr: string): Promise<string> {
  const sock = join(traddr, 'cntrl');
  switch (kind(traddr)) {
    case 'missing':
      throw new EndpointError(`no vfio-user endpoint at traddr:${traddr}: the directory does not exist. Start a target and add a listener there (vnvme rpc nvmf_subsystem_add_listener NQN -t VFIOUSER -a ${traddr} -s 0).`);
    case 'socket':
      throw new EndpointError(`traddr:${traddr} is the socket; traddr is its directory: pass -r 'trtype:VFIOUSER traddr:${dirname(traddr)}'`);
    case 'other':
      throw new EndpointError(`traddr:${traddr} is a file, not an endpoint directory (traddr is the directory that holds the cntrl socket).`);
    case 'dir':
      break;
  }
  const k = kind(sock);
  if (k === 'missing') {
    throw new EndpointError(`no vfio-user target listens at traddr:${traddr}: ${sock} does not exist. Start a target and add a listener for that directory (vnvme rpc nvmf_subsystem_add_listener NQN -t VFIOUSER -a ${traddr} -s 0).`);
  }
  if (k !== 'socket') throw new EndpointError(`${sock} is not a socket; is ${traddr} a vfio-user endpoint directory?`);
  if (!(await socketAnswers(sock, 2000))) {
    throw new EndpointError(`nothing accepts connections on ${sock} (its target exited without removing it?). Start the target again; it replaces a stale socket itself.`);
  }
  return sock;
}

/** For `--socket PATH` (QEMU's vfio-user-pci socket): PATH must be the live socket file, DIR/cntrl. */
export async function checkSocketPath(path: string): Promise<void> {
  const traddr = /(?:^|[\s,])traddr[:=](\S+)/i.exec(path)?.[1];
  if (traddr !== undefined) {
    throw new EndpointError(`--socket takes the socket file, not a transport ID: pass --socket ${join(traddr, 'cntrl')}`);
  }
  switch (kind(path)) {
    case 'missing':
      if (basename(path) !== 'cntrl' && kind(join(dirname(path), 'cntrl')) === 'socket') {
        throw new EndpointError(`${path} does not exist; the socket in that directory is ${join(dirname(path), 'cntrl')}: pass --socket ${join(dirname(path), 'cntrl')}`);
      }
      throw new EndpointError(`no vfio-user socket at ${path}: start the target first (npx vnvme target ...) and pass the socket its listener created (DIR/cntrl) with --socket.`);
    case 'dir': {
      const sock = join(path, 'cntrl');
      if (kind(sock) === 'socket') throw new EndpointError(`${path} is the endpoint directory; --socket takes the socket in it: pass --socket ${sock}`);
      throw new EndpointError(`${path} is a directory with no cntrl socket in it; --socket takes a listener's socket file (DIR/cntrl) of a running target.`);
    }
    case 'other':
      throw new EndpointError(`${path} is not a socket; --socket takes a listener's socket file (DIR/cntrl) of a running target.`);
    case 'socket':
      if (!(await socketAnswers(path, 2000))) {
        throw new EndpointError(`nothing accepts connections on ${path} (its target exited without removing it?). Start the target again; it replaces a stale socket itself.`);
      }
  }
}
