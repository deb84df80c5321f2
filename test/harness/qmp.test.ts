// QMP framing and the client against a scripted QMP server on a UNIX socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand, QmpClient, QmpError, QmpFramer } from '../../harness/guest/qmp.js';

test('framer splits on newlines across chunk boundaries and skips blank lines', () => {
  const f = new QmpFramer();
  assert.deepEqual(f.push('{"a":1}\r\n{"b"'), [{ a: 1 }]);
  assert.deepEqual(f.push(':2}\r\n\r\n'), [{ b: 2 }]);
  assert.deepEqual(f.push('{"c":'), []);
  assert.deepEqual(f.push('3}\n{"d":4}\n'), [{ c: 3 }, { d: 4 }]);
});

test('framer rejects non-objects', () => {
  assert.throws(() => new QmpFramer().push('[1,2]\n'), /non-object/);
  assert.throws(() => new QmpFramer().push('{bad\n'));
});

test('commands carry arguments only when given, and an id', () => {
  assert.equal(encodeCommand('query-status', undefined, 7), '{"execute":"query-status","id":7}\n');
  assert.deepEqual(JSON.parse(encodeCommand('device_del', { id: 'x' }, 1)), { execute: 'device_del', arguments: { id: 'x' }, id: 1 });
});

/** A QMP server that greets, answers qmp_capabilities, and then follows `script`. */
function fakeQmp(path: string, script: (cmd: { execute: string; arguments?: Record<string, unknown>; id: number }, sock: Socket) => void) {
  const received: string[] = [];
  const server = createServer((sock) => {
    sock.write('{"QMP": {"version": {"qemu": {"micro": 3, "minor": 1, "major": 11}}, "capabilities": []}}\r\n');
    const f = new QmpFramer();
    sock.on('data', (d) => {
      for (const m of f.push(d.toString())) {
        const cmd = m as { execute: string; arguments?: Record<string, unknown>; id: number };
        received.push(cmd.execute);
        if (cmd.execute === 'qmp_capabilities') sock.write(`{"return": {}, "id": ${cmd.id}}\r\n`);
        else script(cmd, sock);
      }
    });
  });
  return new Promise<{ close: () => void; received: string[] }>((resolve) =>
    server.listen(path, () => resolve({ close: () => server.close(), received })),
  );
}

test('client negotiates, executes, receives errors and events', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-qmp-'));
  const path = join(dir, 'qmp.sock');
  const srv = await fakeQmp(path, (cmd, sock) => {
    if (cmd.execute === 'query-status') {
      // An event interleaved before the reply, and the reply split across writes.
      sock.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RESET", "data": {"guest": true}}\r\n{"return": {"status": "runn');
      setTimeout(() => sock.write(`ing", "running": true}, "id": ${cmd.id}}\r\n`), 10);
    } else if (cmd.execute === 'device_del') {
      sock.write(`{"error": {"class": "DeviceNotFound", "desc": "Device '${String(cmd.arguments?.id)}' not found"}, "id": ${cmd.id}}\r\n`);
      setTimeout(() => sock.write('{"event": "DEVICE_DELETED", "data": {"device": "x"}}\n'), 20);
    }
  });
  try {
    const c = await QmpClient.connect(path, 2000);
    assert.ok(c.greeting);
    assert.deepEqual(await c.queryStatus(), { status: 'running', running: true });
    assert.equal(c.events[0]?.event, 'RESET');
    const err = await c.deviceDel('nope').catch((e: unknown) => e);
    assert.ok(err instanceof QmpError);
    assert.equal(err.errorClass, 'DeviceNotFound');
    assert.match(err.message, /device_del failed: DeviceNotFound/);
    const ev = await c.waitEvent('DEVICE_DELETED', 2000);
    assert.deepEqual(ev.data, { device: 'x' });
    await assert.rejects(c.waitEvent('NEVER', 50), /no QMP NEVER event/);
    assert.deepEqual(srv.received, ['qmp_capabilities', 'query-status', 'device_del']);
    c.close();
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pending commands fail when QEMU goes away', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-qmp-'));
  const path = join(dir, 'qmp.sock');
  const srv = await fakeQmp(path, (_cmd, sock) => sock.destroy());
  try {
    const c = await QmpClient.connect(path, 2000);
    await assert.rejects(c.systemReset(), /closed/);
    await assert.rejects(c.queryStatus(), /closed/);
  } finally {
    srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('connect gives up on a socket that never appears', async () => {
  await assert.rejects(QmpClient.connect('/nonexistent/vnvme/qmp.sock', 300), /could not connect to QMP/);
});
