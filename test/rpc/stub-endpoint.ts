// A stand-in vfio-user endpoint for RPC tests: a UNIX socket at DIR/cntrl that accepts and
// counts connections, so listener plumbing can be tested without the NVMe controller.
import { createServer, Socket } from 'node:net';
import { existsSync, unlinkSync } from 'node:fs';
import type { ControllerEndpoint, EndpointOptions } from '../../target/nvmf/transport.js';

export interface StubEndpoint extends ControllerEndpoint {
  readonly path: string;
  namespaceChanges: number;
  closed: boolean;
}

export const created: StubEndpoint[] = [];

export async function endpointFactory(opts: EndpointOptions): Promise<StubEndpoint> {
  const path = `${opts.traddr}/cntrl`;
  if (existsSync(path)) unlinkSync(path);
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  const ep: StubEndpoint = {
    path,
    namespaceChanges: 0,
    closed: false,
    async close() {
      ep.closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
    info() {
      return [...sockets].map((_, i) => ({ cntlid: i + 1, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:stub', hostid: '00000000-0000-0000-0000-000000000000', num_io_qpairs: 0 }));
    },
    namespacesChanged() {
      ep.namespaceChanges++;
    },
    stats() {
      return { connections: sockets.size, nsid_changes: ep.namespaceChanges, subsystem: opts.subsystem.nqn };
    },
  };
  created.push(ep);
  return ep;
}
