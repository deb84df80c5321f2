// The VERSION reply answers what the client asked and fits in the client's request: Oracle's
// QEMU reads the reply into a buffer the size of its own request and refuses a longer one
// ("vfio_user_recv: reply larger than recv buffer"). Checked for every client variant we know
// (the fork, upstream QEMU, libvfio-user's client, ours, none) directly and over the socket,
// with and without migration v1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VfioUserClient, defaultCaps, type ReplyMessage } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { versionReply } from '../../target/vfio-user/server.js';
import { startScratchServer } from '../helpers/scratch-device.js';
import { makePair } from '../migration/pair.js';

/** The JSON each client sends, byte for byte as it builds it. */
const CLIENTS: Record<string, string | undefined> = {
  // hw/vfio/user.c caps_json() at d377d483f9 and vfio-user-dbfix (QDict keeps insertion order).
  'oracle-fork': '{"capabilities": {"migration": {"pgsize": 4096}, "max_msg_fds": 16, "max_data_xfer_size": 1048576}}',
  'oracle-fork-compact': '{"capabilities":{"migration":{"pgsize":4096},"max_msg_fds":16,"max_data_xfer_size":1048576}}',
  // upstream QEMU 10.1+ hw/vfio-user/proxy.c caps_json()
  'qemu-upstream':
    '{"capabilities": {"migration": {"pgsize": 4096, "max_bitmap_size": 268435456}, "max_msg_fds": 16, "max_data_xfer_size": 1048576, "pgsizes": 4096, "max_dma_maps": 65535, "write_multiple": true}}',
  // libvfio-user's samples/client.c
  'libvfio-user-client': '{"capabilities":{"max_msg_fds":8,"migration":{"pgsize":4096}}}',
  ours: JSON.stringify({ capabilities: defaultCaps() }),
  'empty-object': '{}',
  'no-json': undefined,
};

function request(json: string | undefined): Buffer {
  const j = json === undefined ? Buffer.alloc(0) : Buffer.from(json + '\0');
  const p = Buffer.alloc(4 + j.length);
  j.copy(p, 4);
  return p;
}

const OURS: W.VersionCaps = {
  max_msg_fds: 16,
  max_data_xfer_size: 1 << 20,
  pgsizes: 4096,
  max_dma_maps: 65535,
  write_multiple: true,
  migration: { pgsize: 4096, max_bitmap_size: 256 << 20 },
};

test('versionReply: never longer than the request, answers only what was asked', () => {
  for (const [name, json] of Object.entries(CLIENTS)) {
    const req = request(json);
    const asked = json === undefined ? undefined : ((JSON.parse(json) as { capabilities?: W.VersionCaps }).capabilities ?? {});
    const reply = versionReply(OURS, asked, req.length);
    const bytes = W.encodeVersion({ major: 0, minor: 0, caps: reply });
    assert.ok(bytes.length <= req.length, `${name}: reply ${bytes.length} bytes > request ${req.length}`);
    for (const k of Object.keys(reply ?? {})) assert.ok(asked && k in asked, `${name}: reply has ${k}, which the client did not send`);
    if (json !== undefined) assert.equal(bytes[bytes.length - 1], 0, `${name}: reply JSON NUL-terminated`);
  }
  const fork = versionReply(OURS, JSON.parse(CLIENTS['oracle-fork']!).capabilities, request(CLIENTS['oracle-fork']).length);
  assert.deepEqual(fork, { migration: { pgsize: 4096 }, max_data_xfer_size: 1 << 20, max_msg_fds: 16 });
  const upstream = versionReply(OURS, JSON.parse(CLIENTS['qemu-upstream']!).capabilities, request(CLIENTS['qemu-upstream']).length);
  assert.equal(upstream?.write_multiple, true, 'upstream asks for write_multiple and gets it');
  assert.deepEqual(upstream?.migration, { pgsize: 4096, max_bitmap_size: 256 << 20 });
});

test('versionReply: a limit stricter than the spec default is always sent, even unasked', () => {
  const reply = versionReply({ ...OURS, max_data_xfer_size: 4096 }, {}, request('{}').length);
  assert.equal(reply?.max_data_xfer_size, 4096);
  assert.equal(versionReply({ ...OURS, max_data_xfer_size: 4096 }, undefined, 4)?.max_data_xfer_size, 4096);
});

async function negotiateRaw(path: string, json: string | undefined): Promise<{ reply: ReplyMessage; req: Buffer }> {
  const c = await VfioUserClient.connect(path);
  try {
    const req = request(json);
    const reply = await c.call(W.Command.VERSION, req);
    // The server still serves after the handshake.
    assert.ok((await c.deviceInfo()).numRegions >= 9);
    return { reply, req };
  } finally {
    c.close();
  }
}

test('over the socket: every client variant gets a reply that fits its request', async () => {
  const s = startScratchServer();
  try {
    for (const [name, json] of Object.entries(CLIENTS)) {
      const { reply, req } = await negotiateRaw(s.path, json);
      assert.ok(reply.payload.length <= req.length, `${name}: reply ${reply.payload.length} > request ${req.length}`);
    }
  } finally {
    await s.close();
  }
});

test('over the socket with migration v1 (as Oracle\'s vfio-user-dbfix talks to it): the fork\'s request gets migration.pgsize back', async () => {
  const pair = await makePair({ v1: true });
  try {
    const { reply, req } = await negotiateRaw(pair.a.socketPath, CLIENTS['oracle-fork']);
    assert.ok(reply.payload.length <= req.length, `reply ${reply.payload.length} > request ${req.length}`);
    const v = W.decodeVersion(reply.payload);
    assert.deepEqual(v.caps?.migration, { pgsize: 4096 });
  } finally {
    await pair.close();
  }
});
