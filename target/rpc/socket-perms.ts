// Who may connect to the RPC socket. Whoever can connect can create file bdevs on any path
// (bdev_aio_create /etc/shadow), so the socket is bound 0600 whatever the process umask is,
// and is opened up only as asked: first its owner and group are set, then its mode, so no
// moment exists where more users than intended can connect.
import { chmodSync, chownSync, lstatSync } from 'node:fs';
import type { Server } from 'node:net';

export interface SocketPermissions {
  /** File mode of the socket; 0600 by default (only the owner may connect). */
  mode?: number;
  /** Owner and group to give the socket (QEMU or a management tool under another user). */
  uid?: number;
  gid?: number;
}

export const DEFAULT_SOCKET_MODE = 0o600;

/** Parses an octal mode such as 0600 or 660; refuses bits beyond rwx for user/group/other. */
export function parseSocketMode(text: string): number {
  if (!/^0?[0-7]{1,3}$/.test(text.trim())) throw new Error(`invalid socket mode '${text}': give octal permission bits such as 0600 or 0660`);
  return Number.parseInt(text.trim(), 8);
}

/**
 * server.listen(path) with the umask at 0177 while it binds (node binds synchronously inside
 * listen), so the socket file is created 0600; then owner, group and mode as asked.
 */
export function listenWithPermissions(server: Server, path: string, perms: SocketPermissions, onListening: () => void): void {
  const old = process.umask(0o177);
  try {
    server.listen(path, () => {
      // Should node ever bind later than listen() returns, the umask no longer applied: refuse.
      if ((lstatSync(path).mode & 0o077) !== 0) {
        server.close();
        server.emit('error', new Error(`${path} was created with group/other access; refusing to serve RPC on it`));
        return;
      }
      try {
        if (perms.uid !== undefined || perms.gid !== undefined) chownSync(path, perms.uid ?? -1, perms.gid ?? -1);
        const mode = perms.mode ?? DEFAULT_SOCKET_MODE;
        if (mode !== DEFAULT_SOCKET_MODE) chmodSync(path, mode);
      } catch (err) {
        server.close();
        server.emit('error', new Error(`setting owner/mode of ${path}: ${err instanceof Error ? err.message : String(err)}`));
        return;
      }
      onListening();
    });
  } finally {
    process.umask(old);
  }
}
