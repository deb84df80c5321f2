// The host-side conformance suite against our own target, in both doorbell modes: every case
// passes, is skipped for a stated reason (a feature this mode does not offer), or is a
// documented expected failure naming the missing feature. Every VERSION, DMA_MAP/UNMAP,
// REGION_READ/WRITE (and the other requests) the suite's client sends meanwhile is checked byte
// for byte against the independent spec encoder (test/helpers/vfio-user-wire.ts).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { conformanceCases, runConformance, startInProcessTarget, type ConformanceReport } from '../../harness/initiator/conformance/index.js';
import { formatReport } from '../../harness/initiator/conformance/report.js';
import { ClientWireTap } from '../helpers/client-wire-tap.js';

/** Expected failures we know about, per doorbell mode, and why. */
const KNOWN_GAPS: Record<'mapped' | 'message', string[]> = {
  mapped: [],
  message: [],
};

/** Skips that are correct for this target in each mode (the feature is not offered there). */
const EXPECTED_SKIPS: Record<'mapped' | 'message', string[]> = {
  // The in-process target has a namespace pool: the case for a controller without one skips;
  // it supports fused Compare and Write: the case for a controller without it skips; with
  // Reservations (ONCS bit 5) every optional I/O opcode is advertised, so the case for an
  // unadvertised one has nothing to send. Its zoned namespace (nsid 8) makes the controller one of
  // several I/O command sets, so the case for a controller that refuses CSI 02h skips.
  mapped: ['admin.dbbuf.shadow-doorbells', 'admin.dbbuf.misaligned', 'admin.dbbuf.unmapped', 'admin.identify.csi-unsupported', 'admin.ns-mgmt.cns-without-support', 'io.fused.unsupported', 'io.opcode.optional-unsupported'],
  message: ['admin.dbbuf.unsupported', 'admin.identify.csi-unsupported', 'admin.ns-mgmt.cns-without-support', 'io.fused.unsupported', 'io.opcode.optional-unsupported'],
};

test('the suite has well over 100 cases, each with id, section, procedure, expectation, level', () => {
  assert.ok(conformanceCases.length > 150, `${conformanceCases.length} cases`);
  const ids = new Set<string>();
  for (const c of conformanceCases) {
    assert.ok(!ids.has(c.id), `duplicate id ${c.id}`);
    ids.add(c.id);
    assert.match(c.id, /^[a-z0-9-]+(\.[a-z0-9-]+)+$/, c.id);
    assert.match(c.section, /NVMe|NVM Command Set|PCI|vfio-user/, `${c.id} section`);
    assert.ok(c.procedure && c.expected && c.title, `${c.id} text`);
    assert.ok(c.level === 'mandatory' || c.level === 'optional');
  }
});

for (const mode of ['mapped', 'message'] as const) {
  describe(`conformance against the in-process target (${mode} doorbells)`, () => {
    let rep: ConformanceReport;
    const tap = new ClientWireTap();

    test('runs every case', async () => {
      tap.install();
      try {
        rep = await runConformance({ mode });
      } finally {
        tap.uninstall();
      }
      assert.equal(rep.mode, mode);
      assert.equal(rep.summary.total, conformanceCases.length);
    });

    test('every message the client sent is byte-identical to the independent spec encoder', (t) => {
      t.diagnostic(`checked: ${[...tap.checked].map(([k, n]) => `${k} ${n}`).join(', ')}`);
      assert.deepEqual(tap.mismatches.slice(0, 20), [], `${tap.mismatches.length} messages differ`);
      const must = ['VERSION', 'DMA_MAP', 'DMA_UNMAP', 'DEVICE_GET_INFO', 'DEVICE_GET_REGION_INFO', 'DEVICE_SET_IRQS', 'DEVICE_RESET', 'REGION_READ', 'REGION_WRITE'];
      if (mode === 'message') must.push('REGION_WRITE (posted)');
      for (const c of must) assert.ok((tap.checked.get(c) ?? 0) > 0, `no ${c} was checked`);
    });

    test('no case fails', () => {
      const failed = rep.results.filter((r) => r.verdict === 'fail');
      assert.deepEqual(
        failed.map((r) => `${r.id}: ${r.detail}`),
        [],
        formatReport({ ...rep, results: failed }),
      );
    });

    test('default output lists what needs attention and the per-area summary; --verbose lists every case', () => {
      const short = formatReport(rep);
      const long = formatReport(rep, { verbose: true });
      const passLines = (t: string) => t.split('\n').filter((l) => /^PASS /.test(l)).length;
      assert.equal(passLines(short), 0, 'no PASS lines by default');
      assert.equal(passLines(long), rep.summary.pass);
      for (const r of rep.results.filter((x) => x.verdict === 'skip')) assert.ok(short.includes(r.id), `skip ${r.id} listed`);
      assert.match(short, /By area:/);
      assert.ok(short.split('\n').length < 120, `${short.split('\n').length} lines by default`);
    });

    test('expected failures are exactly the documented gaps, each naming the missing feature', () => {
      const xf = rep.results.filter((r) => r.verdict === 'expected-failure');
      assert.deepEqual(xf.map((r) => r.id).sort(), [...KNOWN_GAPS[mode]].sort());
      for (const r of xf) assert.ok(r.missing && r.missing.length > 10, `${r.id} names what is missing`);
    });

    test('skips are only for features this mode does not offer', () => {
      const skipped = rep.results.filter((r) => r.verdict === 'skip');
      assert.deepEqual(skipped.map((r) => r.id).sort(), [...EXPECTED_SKIPS[mode]].sort(), skipped.map((r) => `${r.id}: ${r.detail}`).join('\n'));
    });

    test('evidence: commands with decoded status names and dword 0', () => {
      const r = rep.results.find((x) => x.id === 'admin.identify.cns-unsupported')!;
      const cmds = r.evidence.filter((e) => 'command' in e);
      assert.equal(cmds.length, 3);
      for (const e of cmds) {
        assert.ok('command' in e);
        assert.match(e.command, /^Identify \(0x6\)$/);
        assert.equal(e.status, 'INVALID_FIELD');
        assert.equal(typeof e.dw0, 'number');
      }
      const abort = rep.results.find((x) => x.id === 'admin.abort.completed-command')!;
      const last = abort.evidence.filter((e) => 'command' in e).at(-1)!;
      assert.ok('dw0' in last && (last.dw0 & 1) === 1, 'Abort of a completed command: dw0 bit 0 = 1 recorded');
    });
  });
}

test('interrupt mode (nvmf_tgt --interrupt-mode, message doorbells): every case passes or skips as in message mode', async () => {
  const rep = await runConformance({ mode: 'message', interruptMode: true });
  const bad = rep.results.filter((r) => r.verdict === 'fail' || r.verdict === 'expected-failure');
  assert.deepEqual(bad.map((r) => `${r.id}: ${r.detail}`), []);
  assert.deepEqual(rep.results.filter((r) => r.verdict === 'skip').map((r) => r.id).sort(), [...EXPECTED_SKIPS.message].sort());
});

test('a mapped-doorbell target driven with trapped doorbell writes (a client that does not mmap)', async () => {
  const t = await startInProcessTarget('mapped');
  try {
    const rep = await runConformance({ endpoint: t.endpoint, mode: 'message', slowNsid: t.slowNsid, upcallNsid: t.upcallNsid });
    assert.equal(rep.mode, 'message');
    const bad = rep.results.filter((r) => r.verdict === 'fail' || r.verdict === 'expected-failure');
    assert.deepEqual(bad.map((r) => `${r.id}: ${r.detail}`), []);
    assert.deepEqual(rep.results.filter((r) => r.verdict === 'skip').map((r) => r.id).sort(), [...EXPECTED_SKIPS.mapped].sort());
  } finally {
    await t.close();
  }
});

test('filter selects cases by id substring', async () => {
  const rep = await runConformance({ mode: 'message', filter: 'admin.log.' });
  assert.ok(rep.results.length >= 10);
  assert.ok(rep.results.every((r) => r.id.includes('admin.log.')));
  assert.equal(rep.summary.fail, 0);
});
