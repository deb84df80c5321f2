// Parsing what the guest reports about its NVMe controllers, and the fio/reset helpers
// against a scripted shell (no guest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fioVerify, namespaceDevice, parseControllerList, resetAndRecover, waitForController, type GuestShell } from '../../harness/guest/nvme-in-guest.js';
import type { ExecResult } from '../../harness/guest/ssh.js';

function result(command: string, stdout: string, code = 0): ExecResult {
  return { command, code, signal: undefined, stdout, stderr: '', durationMs: 1 };
}

/** A shell whose answers come from `respond`; `check` rejects on non-zero like the real one. */
function scripted(respond: (cmd: string) => ExecResult): GuestShell & { commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    exec: async (cmd) => {
      commands.push(cmd);
      return respond(cmd);
    },
    check: async (cmd) => {
      commands.push(cmd);
      const r = respond(cmd);
      if (r.code !== 0) throw new Error(`failed: ${cmd}`);
      return r;
    },
  };
}

test('controller list lines: serial and model are trimmed (sysfs pads them); namespaces in NSID order', () => {
  // Linux scans namespaces concurrently: nvme0n1 may be NSID 2.
  const text = 'nvme0|VNVME0001           |vnvme test                              |0000:01:00.0|nvme0n1:2 nvme0n2:1 \nnvme1|QEMUBASELINE0001    |QEMU NVMe Ctrl|0000:02:00.0|\n';
  const list = parseControllerList(text);
  assert.deepEqual(list, [
    { name: 'nvme0', serial: 'VNVME0001', model: 'vnvme test', address: '0000:01:00.0', namespaces: ['nvme0n2', 'nvme0n1'], nsids: [1, 2] },
    { name: 'nvme1', serial: 'QEMUBASELINE0001', model: 'QEMU NVMe Ctrl', address: '0000:02:00.0', namespaces: [], nsids: [] },
  ]);
  assert.equal(namespaceDevice(list[0]!, 2), 'nvme0n1');
  assert.equal(namespaceDevice(list[0]!, 3), undefined);
  assert.deepEqual(parseControllerList(''), []);
});

test('waitForController waits for the namespace and names what it saw when it gives up', async () => {
  let calls = 0;
  const g = scripted((cmd) => {
    if (cmd.startsWith('for c in')) return result(cmd, ++calls < 2 ? 'nvme0|S1|M|a|\n' : 'nvme0|S1|M|a|nvme0n1\n');
    return result(cmd, '[1.0] nvme nvme0: pci function');
  });
  assert.deepEqual((await waitForController(g, 'S1', 5000)).namespaces, ['nvme0n1']);
  const none = scripted((cmd) => result(cmd, cmd.startsWith('for c in') ? 'nvme0|OTHER|M|a|nvme0n1\n' : 'nvme dmesg line'));
  await assert.rejects(waitForController(none, 'S1', 10), /no NVMe controller with serial S1.*OTHER[\s\S]*nvme dmesg line/);
});

test('fioVerify reads fio JSON and fails on a non-zero fio exit', async () => {
  const json = JSON.stringify({ jobs: [{ error: 0, write: { io_bytes: 16777216 }, read: { io_bytes: 16777216 } }] });
  const g = scripted((cmd) => result(cmd, `note: both iodepth >= 1 and synchronous I/O engine\n${json}`));
  const r = await fioVerify(g, 'nvme0n1', 16);
  assert.equal(r.writeBytes, 16777216);
  assert.equal(r.readBytes, 16777216);
  assert.match(g.commands[0] ?? '', /--verify=crc32c/);
  assert.match(g.commands[0] ?? '', /--filename=\/dev\/nvme0n1/);
  const bad = scripted((cmd) => result(cmd, 'verify: bad magic header', 1));
  await assert.rejects(fioVerify(bad, 'nvme0n1', 16), /failed/);
});

test('resetAndRecover waits for the controller to be live again, then reads', async () => {
  const states = ['resetting', 'connecting', 'live'];
  const g = scripted((cmd) => (cmd.startsWith('cat /sys/class/nvme') ? result(cmd, `${states.shift() ?? 'live'}\n`) : result(cmd, '')));
  const r = await resetAndRecover(g, { name: 'nvme0', serial: 'S', model: 'M', address: 'a', namespaces: ['nvme0n1'], nsids: [1] });
  assert.ok(r.liveAfterMs >= 0);
  assert.equal(g.commands[0], 'nvme reset /dev/nvme0');
  assert.match(g.commands.at(-1) ?? '', /^dd if=\/dev\/nvme0n1 .*iflag=direct/);
  const stuck = scripted((cmd) => result(cmd, cmd.startsWith('cat') ? 'dead\n' : ''));
  await assert.rejects(resetAndRecover(stuck, { name: 'nvme0', serial: 'S', model: 'M', address: 'a', namespaces: [], nsids: [] }, 10), /"dead", not live/);
});
