// QEMU's start-up failures (messages as QEMU 11.1.3 prints them) become precise harness errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainQemuFailure } from '../../harness/qemu/errors.js';

const dev = `qemu-system-x86_64: -device {"driver":"vfio-user-pci","id":"vfu0","socket":{"type":"unix","path":"/tmp/t/cntrl"}}`;

test('no socket file: start the target first', () => {
  const e = explainQemuFailure(`${dev}: Failed to connect to '/tmp/t/cntrl': No such file or directory\n`, 1);
  assert.equal(e.kind, 'vfio-user-no-socket');
  assert.match(e.message, /no vfio-user target is listening at \/tmp\/t\/cntrl/);
  assert.match(e.message, /Start the target/);
  assert.match(e.message, /QEMU said/);
});

test('stale socket: connection refused', () => {
  const e = explainQemuFailure(`${dev}: Failed to connect to '/tmp/t/cntrl': Connection refused\n`, 1);
  assert.equal(e.kind, 'vfio-user-refused');
  assert.match(e.message, /stale socket/);
});

test('server that never answers: timeout', () => {
  const e = explainQemuFailure(`${dev}: vfio_user_version: timed out waiting for reply\n`, 1);
  assert.equal(e.kind, 'vfio-user-timeout');
  assert.match(e.message, /\/tmp\/t\/cntrl/);
});

test('wrong device syntax', () => {
  assert.equal(explainQemuFailure("qemu-system-x86_64: -device vfio-user-pci,socket.path=/tmp/x: Property 'vfio-user-pci.socket.path' not found", 1).kind, 'vfio-user-property');
  assert.equal(explainQemuFailure("qemu-system-x86_64: -device vfio-user-pci,socket=/tmp/x: Invalid parameter type for 'socket', expected: object", 1).kind, 'vfio-user-property');
});

test('QEMU without vfio-user, KVM failure, hugepages, port', () => {
  assert.equal(explainQemuFailure("qemu-system-x86_64: -device vfio-user-pci: 'vfio-user-pci' is not a valid device model name", 1).kind, 'no-vfio-user');
  assert.equal(explainQemuFailure('KVM internal error. Suberror: 1\nemulation failure', null, 'SIGABRT').kind, 'kvm');
  assert.equal(explainQemuFailure('qemu-system-x86_64: unable to map backing store for guest RAM: Cannot allocate memory (mem-path=/dev/hugepages)', 1).kind, 'hugepages');
  assert.equal(explainQemuFailure("qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:4-:22: Could not set up host forwarding rule 'tcp:127.0.0.1:4-:22'", 1).kind, 'port-in-use');
});

test('anything else keeps QEMU exit status and its last lines', () => {
  const e = explainQemuFailure('line1\nsomething odd happened\n', 3);
  assert.equal(e.kind, 'unknown');
  assert.match(e.message, /exited with status 3/);
  assert.match(e.message, /something odd happened/);
  assert.match(explainQemuFailure('', null, 'SIGKILL').message, /killed by SIGKILL/);
});
