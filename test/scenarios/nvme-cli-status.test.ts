// The guest nvme-cli check `set-feature.number-of-queues-after-init` asserts the NVMe status
// the device returned, and reports a kernel refusal (EACCES/EPERM before the device saw the
// command) as a skip with that reason, instead of passing on any non-zero exit (issue 13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeNumberOfQueuesAfterInit, nvmeCliOutcome } from '../../scenarios/lib/nvme-cli-status.js';

const run = (code: number, stderr: string, stdout = '') => ({ code, stdout, stderr });

test('nvme-cli outputs: NVMe status (1.x, 2.x, old decimal form), errno, success', () => {
  assert.deepEqual(nvmeCliOutcome(run(12, 'NVMe status: Command Sequence Error: The command was aborted due to a command sequence error(0x400c)\n')), {
    kind: 'status',
    status: 0x400c,
    text: 'Command Sequence Error: The command was aborted due to a command sequence error',
  });
  assert.deepEqual(nvmeCliOutcome(run(12, 'NVMe status: COMMAND_SEQUENCE_ERROR: The command was aborted due to a command sequence error(0x400c)\n')).kind, 'status');
  assert.deepEqual(nvmeCliOutcome(run(6, 'NVMe Status:INTERNAL(6)\n')), { kind: 'status', status: 6, text: 'INTERNAL' });
  assert.deepEqual(nvmeCliOutcome(run(1, 'set-feature: Permission denied\n')), { kind: 'errno', message: 'Permission denied', refusedByKernel: true });
  assert.deepEqual(nvmeCliOutcome(run(1, 'ioctl: Operation not permitted\n')), { kind: 'errno', message: 'Operation not permitted', refusedByKernel: true });
  assert.deepEqual(nvmeCliOutcome(run(1, 'set-feature: Invalid argument\n')), { kind: 'errno', message: 'Invalid argument', refusedByKernel: false });
  assert.deepEqual(nvmeCliOutcome(run(0, '', 'set-feature:0x07 (Number of Queues), value:0x00010001\n')), { kind: 'success' });
  assert.equal(nvmeCliOutcome(run(1, 'something else\n')).kind, 'unknown');
});

test('number-of-queues-after-init: Command Sequence Error passes, a kernel refusal skips, anything else fails', () => {
  const pass = judgeNumberOfQueuesAfterInit(run(12, 'NVMe status: Command Sequence Error: The command was aborted due to a command sequence error(0x400c)\n'));
  assert.equal(pass.verdict, 'pass');
  const skip = judgeNumberOfQueuesAfterInit(run(1, 'set-feature: Permission denied\n'));
  assert.deepEqual(skip, { verdict: 'skip', reason: 'the guest kernel refused the command before the device saw it (Permission denied)' });
  // Any other non-zero exit used to pass.
  for (const r of [
    run(2, 'NVMe status: Invalid Field in Command: A reserved coded value or an unsupported value in a defined field(0x4002)\n'),
    run(1, 'set-feature: Invalid argument\n'),
    run(1, 'Segmentation fault\n'),
    run(0, '', 'set-feature:0x07 (Number of Queues), value:0x00010001\n'),
  ])
    assert.equal(judgeNumberOfQueuesAfterInit(r).verdict, 'fail', r.stderr || r.stdout);
});
