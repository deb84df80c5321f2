// The device-state record: a round trip keeps every field; magic, version, sizes, CRC,
// sections and references are checked, so corrupted, truncated or foreign streams are refused
// with a clear reason.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDeviceState, encodeDeviceState, RecordError, RECORD_HEADER_SIZE, type DeviceState } from '../../target/nvme/device-state.js';
import { crc32 } from '../../target/migration/record.js';

export function sampleState(): DeviceState {
  const config = Buffer.alloc(4096);
  for (let i = 0; i < config.length; i++) config[i] = (i * 7) & 0xff;
  const cqe = Buffer.alloc(16, 0x5a);
  return {
    identity: { vendorId: 0x4e58, deviceId: 1, cntlid: 3, serialNumber: 'SN1', modelNumber: 'model', subnqn: 'nqn.x', maxQueueEntries: 1024, maxIoQueues: 127, msixVectors: 4, mappedDoorbells: true },
    registers: { cap: 0x20000f0103ffn, cc: 0x460001, csts: 1, aqa: 0x1f001f, asq: 0x10000000n, acq: 0x10001000n, intms: 2 },
    pci: { config, msixTable: Buffer.alloc(64, 1) },
    admin: { sqBase: 0x10000000n, cqBase: 0x10001000n, sqSize: 32, cqSize: 32, sqHead: 5, sqTail: 6, cqTail: 4, cqHead: 3, phase: false },
    adminDoorbells: [6, 3],
    pendingAdminCqes: [cqe],
    queues: [
      { type: 'cq', qid: 1, cqid: 0, iova: 0x10002000n, size: 64, head: 10, tail: 12, phase: true, ien: true, vector: 3, inflight: 0, doorbell: 10 },
      { type: 'sq', qid: 1, cqid: 1, iova: 0x10003000n, size: 64, head: 13, tail: 0, phase: false, ien: false, vector: 0, inflight: 1, doorbell: 15 },
    ],
    completions: [{ sqid: 1, cid: 77, status: 0x4002, dw0: 9 }],
    shadow: { dbs: 0x10004000n, ei: 0x10005000n },
    events: { aers: [1, 2], pending: [0x10001], masked: [0], changedNamespaces: [1] },
    features: {
      arbitration: 3,
      powerManagement: 0,
      errorRecovery: 5,
      volatileWriteCache: 1,
      queuesGranted: { nsq: 3, ncq: 3 },
      interruptCoalescing: 0x0102,
      writeAtomicity: 1,
      asyncEventConfig: 0x100,
      hostId: Buffer.alloc(16, 9),
      hostIdExtended: true,
      tempThresholds: [[0, 350]],
      ivConfig: [[2, 1]],
    },
    namespaces: [{ nsid: 1, blocks: 16384n, blockSize: 512, uuid: Buffer.alloc(16, 0xab) }],
    errorLog: { count: 2n, entries: [{ errorCount: 2n, sqid: 1, cid: 4, status: 0x281, paramLocation: 0xffff, lba: 12n, nsid: 1 }] },
    smart: { readCommands: 10n, writeCommands: 20n, readBytes: 5120n, writeBytes: 10240n, mediaErrors: 1n, powerCycles: 1n, unsafeShutdowns: 0n, powerOnMs: 1234n },
    featuresV2: { timestampMs: 0x123456789abn, timestampOrigin: 1, timestampSynch: 0, capturedAtMs: 1_700_000_000_000n, hostBehavior: Buffer.concat([Buffer.from([1, 0, 1]), Buffer.alloc(509)]), keepAliveTimeoutMs: 5000 },
    uncorrectable: [{ nsid: 1, slba: 100n, nlb: 8n }],
    formats: [{ nsid: 1, mdSize: 16, extended: true, piType: 2, piFirst: false }],
    reservations: {
      controller: { count: 7n, notices: [{ count: 7n, type: 1, nsid: 1 }], defaultMask: 4, masks: [[1, 2]] },
      namespaces: [
        {
          nsid: 1,
          generation: 3,
          type: 1,
          holder: 'hostid64:0102030405060708',
          ptpl: false,
          registrants: [
            { host: 'hostid64:0102030405060708', hostId: '0102030405060708', extended: false, key: 0xffffffffffffffffn, cntlid: 1 },
            { host: 'cntlid:2', hostId: '0000000000000000', extended: false, key: 5n, cntlid: 2 },
          ],
        },
      ],
    },
  };
}

/** Re-seals a record after a test changed its payload (so the CRC passes and the deeper checks run). */
function reseal(b: Buffer): Buffer {
  const out = Buffer.from(b);
  out.writeUInt32LE(out.length - RECORD_HEADER_SIZE, 8);
  out.writeUInt32LE(crc32(out.subarray(RECORD_HEADER_SIZE)), 12);
  return out;
}

const refused = (b: Buffer, re: RegExp) => assert.throws(() => decodeDeviceState(b), (e: unknown) => e instanceof RecordError && re.test(e.message));

describe('device-state record', () => {
  test('round trip keeps every field', () => {
    const s = sampleState();
    const b = encodeDeviceState(s);
    assert.equal(b.readUInt32LE(0), 0x4d564e56);
    assert.deepEqual(decodeDeviceState(b), s);
  });

  test('no admin queue, no shadow, nothing pending: round trip', () => {
    const s = sampleState();
    s.admin = null;
    s.shadow = null;
    s.pendingAdminCqes = [];
    s.queues = [];
    s.completions = [];
    s.features.queuesGranted = null;
    assert.deepEqual(decodeDeviceState(encodeDeviceState(s)), s);
  });

  test('wrong magic, wrong version, wrong header size, unknown flags', () => {
    const b = encodeDeviceState(sampleState());
    const m = Buffer.from(b);
    m.writeUInt32LE(0xdeadbeef, 0);
    refused(m, /bad magic/);
    const v = Buffer.from(b);
    v.writeUInt16LE(5, 4);
    refused(v, /version 5 is not supported \(this target reads versions 1 to 4\)/);
    const v0 = Buffer.from(b);
    v0.writeUInt16LE(0, 4);
    refused(v0, /version 0 is not supported/);
    const h = Buffer.from(b);
    h.writeUInt16LE(64, 6);
    refused(h, /header size/);
    const f = Buffer.from(b);
    f.writeUInt32LE(1, 20);
    refused(f, /unknown flags/);
  });

  test('a version 1 record (before Timestamp, Host Behavior Support, KATO, Write Uncorrectable) still loads, with their defaults', () => {
    const s = sampleState();
    const v1 = encodeDeviceState(s, 1);
    assert.equal(v1.readUInt16LE(4), 1);
    assert.equal(v1.readUInt32LE(16), 11, 'the eleven sections of version 1');
    assert.deepEqual(decodeDeviceState(v1), { ...s, featuresV2: null, uncorrectable: [], formats: [], reservations: null });
    // A version 1 record with a version 2 section is not a version 1 record.
    const v2 = encodeDeviceState(s);
    const relabelled = Buffer.from(v2);
    relabelled.writeUInt16LE(1, 4);
    refused(relabelled, /unknown section FEAX in a version 1 record/);
    // And a version 2 record must have them.
    const short = Buffer.from(v1);
    short.writeUInt16LE(2, 4);
    refused(short, /section FEAX is missing/);
  });

  test('a version 2 record (before namespace formats) still loads: no namespace has metadata', () => {
    const s = sampleState();
    const v2 = encodeDeviceState(s, 2);
    assert.equal(v2.readUInt16LE(4), 2);
    assert.equal(v2.readUInt32LE(16), 13, 'the thirteen sections of version 2');
    assert.deepEqual(decodeDeviceState(v2), { ...s, formats: [], reservations: null });
    const relabelled = Buffer.from(encodeDeviceState(s));
    relabelled.writeUInt16LE(2, 4);
    refused(relabelled, /unknown section NSFM in a version 2 record/);
  });

  test('a version 3 record (before reservations) still loads: no reservation state; version 4 RESV is checked', () => {
    const s = sampleState();
    const v3 = encodeDeviceState(s, 3);
    assert.equal(v3.readUInt16LE(4), 3);
    assert.equal(v3.readUInt32LE(16), 14, 'the fourteen sections of version 3');
    assert.deepEqual(decodeDeviceState(v3), { ...s, reservations: null });
    assert.deepEqual(decodeDeviceState(encodeDeviceState(s)).reservations, s.reservations);
    const bad = (f: (x: NonNullable<ReturnType<typeof sampleState>['reservations']>) => void, re: RegExp) => {
      const t = sampleState();
      f(t.reservations!);
      refused(encodeDeviceState(t), re);
    };
    bad((x) => (x.namespaces[0]!.nsid = 9), /reservation of namespace 9: the record has no such namespace/);
    bad((x) => (x.namespaces[0]!.holder = 'cntlid:77'), /holder is not a registrant/);
    bad((x) => (x.namespaces[0]!.type = 7), /reservation type 7/);
    bad((x) => x.namespaces.push({ ...x.namespaces[0]! }), /appears twice/);
    bad((x) => (x.controller.notices[0]!.type = 9), /notice of type 9/);
    bad((x) => (x.namespaces[0]!.registrants[1]!.host = x.namespaces[0]!.registrants[0]!.host), /registered twice/);
  });

  test('version 3 namespace formats are checked: a namespace of the record, once, a metadata size and PI type that exist', () => {
    const cases: [(s: DeviceState) => void, RegExp][] = [
      [(s) => void (s.formats = [{ nsid: 2, mdSize: 8, extended: false, piType: 1, piFirst: false }]), /namespace 2's format: the record has no such namespace/],
      [(s) => void s.formats.push({ ...s.formats[0]! }), /appears twice/],
      [(s) => void (s.formats[0]!.mdSize = 12), /metadata size 12/],
      [(s) => void (s.formats[0]!.piType = 4), /PI type 4/],
    ];
    for (const [mutate, re] of cases) {
      const s = sampleState();
      mutate(s);
      refused(encodeDeviceState(s), re);
    }
  });

  test('version 2 sections are checked: Timestamp range, uncorrectable blocks inside a namespace of the record', () => {
    const cases: [(s: DeviceState) => void, RegExp][] = [
      [(s) => void (s.featuresV2!.timestampSynch = 2), /Timestamp out of range/],
      [(s) => void (s.featuresV2!.timestampMs = 1n << 48n), /Timestamp out of range/],
      [(s) => void (s.uncorrectable = [{ nsid: 2, slba: 0n, nlb: 1n }]), /namespace 2, which the record does not have/],
      [(s) => void (s.uncorrectable = [{ nsid: 1, slba: 16380n, nlb: 5n }]), /outside namespace 1/],
      [(s) => void (s.uncorrectable = [{ nsid: 1, slba: 0n, nlb: 0n }]), /outside namespace 1/],
    ];
    for (const [mutate, re] of cases) {
      const s = sampleState();
      mutate(s);
      refused(encodeDeviceState(s), re);
    }
  });

  test('every truncation is refused', () => {
    const b = encodeDeviceState(sampleState());
    for (let n = 0; n < b.length; n += n < 64 ? 1 : 97) refused(b.subarray(0, n), /shorter than|truncated/);
    refused(b.subarray(0, b.length - 1), /truncated/);
    refused(Buffer.concat([b, Buffer.alloc(1)]), /after the payload/);
  });

  test('a flipped bit anywhere in the payload fails the CRC', () => {
    const b = encodeDeviceState(sampleState());
    for (let at = RECORD_HEADER_SIZE; at < b.length; at += 61) {
      const c = Buffer.from(b);
      c[at]! ^= 0x10;
      refused(c, /CRC mismatch/);
    }
  });

  test('sections: missing, duplicated, unknown', () => {
    const b = encodeDeviceState(sampleState());
    const count = b.readUInt32LE(16);
    const fewer = Buffer.from(b);
    fewer.writeUInt32LE(count - 1, 16);
    refused(fewer, /trailing bytes/);
    const unknown = Buffer.from(b);
    unknown.write('ZZZZ', RECORD_HEADER_SIZE, 'latin1'); // the first section's tag
    refused(reseal(unknown), /unknown section ZZZZ/);
    const dup = Buffer.from(b);
    // Re-tag the second section with the first one's tag.
    const firstLen = dup.readUInt32LE(RECORD_HEADER_SIZE + 4);
    dup.write('IDEN', RECORD_HEADER_SIZE + 8 + firstLen, 'latin1');
    refused(reseal(dup), /IDEN appears twice/);
  });

  test('references: SQ without its CQ, head outside the queue, vector outside MSI-X, duplicate queue', () => {
    const cases: [(s: DeviceState) => void, RegExp][] = [
      [(s) => (s.queues[1]!.cqid = 9), /refers to missing CQ 9/],
      [(s) => (s.queues[0]!.head = 64), /head 64\/tail 12 outside/],
      [(s) => (s.queues[1]!.doorbell = 200), /doorbell 200 outside/],
      [(s) => (s.queues[0]!.vector = 4), /vector 4 beyond 4/],
      [(s) => s.queues.push({ ...s.queues[0]! }), /appears twice/],
      [(s) => (s.queues[0]!.iova = 0x10002010n), /not page-aligned/],
      [(s) => (s.completions[0]!.sqid = 5), /completion for missing SQ 5/],
      [(s) => (s.admin!.sqHead = 40), /admin queue head\/tail/],
      [(s) => (s.pci.msixTable = Buffer.alloc(16)), /MSI-X table of 16 bytes/],
      [(s) => (s.pci.config = Buffer.alloc(256)), /config space of 256/],
      [(s) => (s.queues[0]!.qid = 500), /queue id outside/],
    ];
    for (const [mutate, re] of cases) {
      const s = sampleState();
      mutate(s);
      refused(encodeDeviceState(s), re);
    }
  });

  test('a corrupt count cannot make the decoder allocate wildly', () => {
    const s = sampleState();
    const b = encodeDeviceState(s);
    // Find the IOQS section and set its queue count to 0xffffffff.
    let at = RECORD_HEADER_SIZE;
    for (;;) {
      const tag = b.toString('latin1', at, at + 4);
      const len = b.readUInt32LE(at + 4);
      if (tag === 'IOQS') {
        b.writeUInt32LE(0xffffffff, at + 8);
        break;
      }
      at += 8 + len;
    }
    refused(reseal(b), /exceeds the limit/);
  });
});
