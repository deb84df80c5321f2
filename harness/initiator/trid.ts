// SPDK transport IDs as `-r` takes them (spdk_nvme_transport_id_parse): key:value pairs separated
// by spaces or commas, keys case-insensitive ("trtype:VFIOUSER traddr:/var/run/vfio-user
// subnqn:nqn.2019-07.io.spdk:cnode0"). Only VFIOUSER is served here: traddr is the endpoint
// directory and the socket is traddr/cntrl, as SPDK's vfio-user transport lays it out.
import { join } from 'node:path';

export interface TransportId {
  trtype: 'VFIOUSER';
  /** The endpoint directory. */
  traddr: string;
  subnqn?: string;
  /** traddr/cntrl */
  socketPath: string;
  /** Every key as given, lower-cased keys. */
  fields: Record<string, string>;
}

const KNOWN = new Set(['trtype', 'traddr', 'subnqn', 'adrfam', 'trsvcid', 'hostnqn', 'priority', 'ns', 'alt_traddr']);

export function parseTrid(text: string): TransportId {
  const fields: Record<string, string> = {};
  for (const tok of text.split(/[\s,]+/).filter(Boolean)) {
    // Split at the first ':' or '=' only: subnqn values contain colons themselves.
    const m = /^([A-Za-z_]+)[:=](.*)$/.exec(tok);
    if (!m) throw new Error(`transport ID: "${tok}" is not key:value`);
    const key = m[1]!.toLowerCase();
    if (!KNOWN.has(key)) throw new Error(`transport ID: unknown key "${m[1]}"`);
    if (key in fields) throw new Error(`transport ID: "${key}" given twice`);
    if (!m[2]) throw new Error(`transport ID: "${key}" has no value`);
    fields[key] = m[2];
  }
  const trtype = fields.trtype;
  if (!trtype) throw new Error('transport ID: trtype is required (trtype:VFIOUSER)');
  if (trtype.toUpperCase() !== 'VFIOUSER') throw new Error(`transport ID: trtype ${trtype} is not supported (only VFIOUSER)`);
  const traddr = fields.traddr;
  if (!traddr) throw new Error('transport ID: traddr (the endpoint directory) is required');
  return { trtype: 'VFIOUSER', traddr, subnqn: fields.subnqn, socketPath: join(traddr, 'cntrl'), fields };
}

export function formatTrid(t: Pick<TransportId, 'traddr' | 'subnqn'>): string {
  return `trtype:VFIOUSER traddr:${t.traddr}${t.subnqn ? ` subnqn:${t.subnqn}` : ''}`;
}
