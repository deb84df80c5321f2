// SPDK transport IDs (`-r 'trtype:VFIOUSER traddr:/var/run/vnvme subnqn:NQN'`): key:value
// pairs separated by spaces or commas, keys case-insensitive. vfio-user's traddr is the
// listener directory; the socket is DIR/cntrl (a path to the socket itself is accepted too).
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';

export interface TransportId {
  trtype: 'VFIOUSER';
  traddr: string;
  subnqn?: string;
  socket: string;
}

export function parseTransportId(s: string): TransportId {
  const kv = new Map<string, string>();
  for (const part of s.trim().split(/[\s,]+/)) {
    if (!part) continue;
    const i = part.indexOf(':');
    if (i <= 0) throw new Error(`transport ID part '${part}' is not key:value`);
    kv.set(part.slice(0, i).toLowerCase(), part.slice(i + 1));
  }
  const trtype = (kv.get('trtype') ?? '').toUpperCase();
  if (trtype !== 'VFIOUSER') throw new Error(`trtype '${kv.get('trtype') ?? ''}' is not supported; use trtype:VFIOUSER`);
  const traddr = kv.get('traddr');
  if (!traddr) throw new Error('transport ID needs traddr:DIR (the listener directory)');
  const socket = existsSync(traddr) && statSync(traddr).isSocket() ? traddr : join(traddr, 'cntrl');
  return { trtype: 'VFIOUSER', traddr, subnqn: kv.get('subnqn'), socket };
}
