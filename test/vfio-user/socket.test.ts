// The listening socket: permissions and ownership, stale and foreign files at the path,
// one client at a time, and device state surviving a client.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import { VfioUserServer } from '../../target/vfio-user/server.js';
import * as W from '../../target/vfio-user/wire.js';
import { startScratchServer, openFds, sleep, waitFor, type ScratchServer } from '../helpers/scratch-device.js';

describe('vfio-user socket', () => {
  const servers: ScratchServer[] = [];
  const dirs: string[] = [];
  function scratch(opts: Parameters<typeof startScratchServer>[0] = {}): ScratchServer {
    const s = startScratchServer(opts);
    servers.push(s);
    return s;
  }
  function tmp(): string {
    const d = mkdtempSync(join(tmpdir(), 'vnvme-sock-'));
    dirs.push(d);
    return d;
  }
  after(async () => {
    for (const s of servers) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('mode 0600 by default', () => {
    const s = scratch();
    const st = statSync(s.path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o7777, 0o600);
  });

  test('the mode option is applied exactly (umask does not interfere)', async () => {
    const old = process.umask(0o077);
    try {
      for (const mode of [0o660, 0o666, 0o700, 0o640]) {
        const s = scratch({ mode });
        assert.equal(statSync(s.path).mode & 0o7777, mode, `mode 0${mode.toString(8)}`);
      }
    } finally {
      process.umask(old);
    }
  });

  test('owner and group options chown the socket', () => {
    const uid = process.getuid!();
    const gid = process.getgid!();
    const s = scratch({ uid, gid });
    assert.equal(statSync(s.path).uid, uid);
    assert.equal(statSync(s.path).gid, gid);
    if (uid === 0) {
      // As root we can hand it to another user (QEMU under libvirt runs as its own user).
      const t = scratch({ uid: 65534, gid: 65534, mode: 0o660 });
      const st = statSync(t.path);
      assert.equal(st.uid, 65534);
      assert.equal(st.gid, 65534);
      assert.equal(st.mode & 0o7777, 0o660);
      const u = scratch({ gid: 65534 });
      assert.equal(statSync(u.path).uid, 0, 'uid unchanged when only gid is given');
      assert.equal(statSync(u.path).gid, 65534);
    }
  });

  test('a failing chown leaves neither the listening fd nor the socket file behind', () => {
    const dir = tmp();
    const path = join(dir, 'cntrl');
    const s = scratch();
    const before = openFds();
    // An owner chown cannot apply (node refuses a fractional gid before the syscall).
    assert.throws(() => new VfioUserServer(path, s.fn, { gid: 1.5 }));
    assert.equal(openFds(), before, 'listening fd leaked');
    assert.throws(() => statSync(path), /ENOENT/, 'socket file left behind');
    // The path is usable afterwards.
    const server = new VfioUserServer(path, s.fn);
    void server.close();
  });

  test('a stale socket file (bound, nobody listening) is replaced', async () => {
    const dir = tmp();
    const path = join(dir, 'cntrl');
    native.closeFd(native.listenUnix(path, 0o600)); // the file stays, nothing accepts
    assert.ok(statSync(path).isSocket());
    await assert.rejects(VfioUserClient.open(path), /ECONNREFUSED|refused|111/i);
    const s = scratch();
    const server = new VfioUserServer(path, s.fn);
    try {
      const c = await VfioUserClient.open(path);
      assert.equal((await c.deviceInfo()).numRegions, 9);
      c.dispose();
    } finally {
      await server.close();
    }
  });

  test('a path a live server owns is refused with a clear error; the live server keeps serving', async () => {
    const s = scratch();
    assert.throws(() => new VfioUserServer(s.path, s.fn), (e: Error & { errno?: number }) => /in use by a running server/.test(e.message) && e.errno === 98);
    assert.ok(statSync(s.path).isSocket(), 'the live socket is still there');
    const c = await VfioUserClient.open(s.path);
    assert.equal((await c.deviceInfo()).numRegions, 9);
    c.dispose();
  });

  test('a path that is a regular file is refused and left alone', () => {
    const dir = tmp();
    const path = join(dir, 'cntrl');
    writeFileSync(path, 'precious');
    const s = scratch();
    const before = openFds();
    assert.throws(() => new VfioUserServer(path, s.fn), /exists and is not a socket/);
    assert.equal(readFileSync(path, 'utf8'), 'precious');
    assert.equal(openFds(), before, 'no fd left behind');
  });

  test('a path that is a directory is refused', () => {
    const dir = tmp();
    const s = scratch();
    assert.throws(() => new VfioUserServer(dir, s.fn), /not a socket/);
  });

  test('a socket path too long for sun_path is refused', () => {
    const s = scratch();
    assert.throws(() => new VfioUserServer(join(tmp(), 'x'.repeat(120)), s.fn), /ENAMETOOLONG|too long|socket path/i);
  });

  test('server.close() removes the socket file', async () => {
    const s = startScratchServer();
    const path = s.path;
    const c = await VfioUserClient.open(path);
    await s.close();
    await c.waitClosed(2000);
    c.dispose();
    assert.throws(() => statSync(path), /ENOENT/);
  });

  test('one client at a time: a second client is served after the first disconnects', async () => {
    const s = scratch();
    const c1 = await VfioUserClient.open(s.path);
    const c2 = await VfioUserClient.connect(s.path, { timeoutMs: 3000 });
    let answered = false;
    const v = c2.negotiate().then((r) => {
      answered = true;
      return r;
    });
    await sleep(100);
    assert.equal(answered, false, 'the second client was served while the first is attached');
    assert.equal((await c1.deviceInfo()).numRegions, 9, 'the first client is unaffected');
    assert.equal(s.server.connections, 1);
    c1.dispose();
    assert.equal((await v).major, 0);
    assert.equal((await c2.deviceInfo()).numRegions, 9);
    assert.equal(s.server.connections, 2);
    c2.dispose();
  });

  test('disconnect keeps device state; the server accepts a new client', async () => {
    const s = scratch();
    const c1 = await VfioUserClient.open(s.path);
    await c1.write32(0, 0x10, 0x1234abcd);
    await c1.write32(W.RegionIndex.CONFIG, 0x10, 0xfe000000); // BAR0 address
    await c1.write32(W.RegionIndex.CONFIG, 0x04, 0x6); // memory + bus master
    await c1.addMemory(0x100000n, 0x1000);
    c1.dispose();
    await waitFor(() => !s.server.attached, 2000, 'detach');
    assert.equal(s.server.dma.regions().length, 0, 'DMA mappings dropped');
    assert.equal(s.model.detaches, 1);
    assert.deepEqual(s.model.resets, [], 'a disconnect is not a reset');
    const c2 = await VfioUserClient.open(s.path);
    assert.equal(await c2.read32(0, 0x10), 0x1234abcd);
    assert.equal(await c2.read32(W.RegionIndex.CONFIG, 0x10), 0xfe000004);
    assert.equal((await c2.read32(W.RegionIndex.CONFIG, 0x04)) & 0xffff, 0x6);
    // A server-side disconnect too.
    await s.server.disconnectClient();
    await c2.waitClosed(2000);
    c2.dispose();
    const c3 = await VfioUserClient.open(s.path);
    assert.equal(await c3.read32(0, 0x10), 0x1234abcd);
    assert.equal(s.server.connections, 3);
    c3.dispose();
  });
});
