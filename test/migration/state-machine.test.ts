// The v2 migration state machine: every (from, to) pair against the table of the spec
// (Linux vfio_mig_get_next_state / libvfio-user next_state), driven through DeviceMigration
// with a recording device, so each arc's device action is checked too; and v1's bits.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MigState, DIRECT_ARCS, SUPPORTED_STATES, transitionPath, nextState, fromV1, toV1, stateName } from '../../target/migration/state-machine.js';
import { DeviceMigration, type MigratableDevice } from '../../target/migration/migration.js';
import { DmaSpace } from '../../target/vfio-user/dma.js';
import { WireError } from '../../target/vfio-user/wire.js';

const { ERROR: E, STOP: S, RUNNING: R, STOP_COPY: C, RESUMING: M, PRE_COPY: P } = MigState;

// Expected shortest paths (excluding the start); null = not allowed.
const EXPECTED: Record<number, Record<number, MigState[] | null>> = {
  [S]: { [S]: [], [R]: [R], [C]: [C], [M]: [M], [P]: [R, P], [E]: null },
  [R]: { [S]: [S], [R]: [], [C]: [S, C], [M]: [S, M], [P]: [P], [E]: null },
  [C]: { [S]: [S], [R]: [S, R], [C]: [], [M]: [S, M], [P]: null, [E]: null },
  [M]: { [S]: [S], [R]: [S, R], [C]: [S, C], [M]: [], [P]: [S, R, P], [E]: null },
  [P]: { [S]: [R, S], [R]: [R], [C]: [C], [M]: [R, S, M], [P]: [], [E]: null },
  [E]: { [S]: null, [R]: null, [C]: null, [M]: null, [P]: null, [E]: null },
};

const SAVING = new Set<MigState>([C, P]);

describe('migration v2 state machine (table)', () => {
  for (const from of SUPPORTED_STATES) {
    for (const to of SUPPORTED_STATES) {
      test(`${stateName(from)} -> ${stateName(to)}`, () => {
        assert.deepEqual(transitionPath(from, to), EXPECTED[from]![to]);
      });
    }
  }

  test('the nine mandatory arcs are single steps', () => {
    assert.equal(DIRECT_ARCS.length, 9);
    for (const [a, b] of DIRECT_ARCS) assert.deepEqual(transitionPath(a, b), [b], `${stateName(a)} -> ${stateName(b)}`);
  });

  test('no path passes through a saving state as an interior node; STOP_COPY -> PRE_COPY is refused', () => {
    for (const from of SUPPORTED_STATES)
      for (const to of SUPPORTED_STATES) {
        const p = transitionPath(from, to);
        if (!p) continue;
        for (const mid of p.slice(0, -1)) assert.ok(!SAVING.has(mid), `${stateName(from)} -> ${stateName(to)} passes ${stateName(mid)}`);
      }
    assert.equal(transitionPath(C, P), null);
    assert.equal(nextState(C, P), null);
  });

  test('P2P states and unknown numbers are refused', () => {
    assert.equal(transitionPath(R, MigState.RUNNING_P2P), null);
    assert.equal(transitionPath(R, MigState.PRE_COPY_P2P), null);
    assert.equal(transitionPath(R, 42 as MigState), null);
  });

  test('v1 device_state bits map onto v2 states and back', () => {
    assert.equal(fromV1(0), S);
    assert.equal(fromV1(1), R);
    assert.equal(fromV1(2), C);
    assert.equal(fromV1(3), P);
    assert.equal(fromV1(4), M);
    assert.equal(fromV1(6), E);
    assert.equal(fromV1(5), null);
    assert.equal(fromV1(7), null);
    assert.equal(fromV1(8), null);
    for (const s of [S, R, C, P, M, E]) assert.equal(fromV1(toV1(s)), s);
  });
});

class RecordingDevice implements MigratableDevice {
  calls: string[] = [];
  failLoad = false;
  async quiesce(): Promise<void> {
    this.calls.push('quiesce');
  }
  resume(): void {
    this.calls.push('resume');
  }
  save(): Buffer {
    this.calls.push('save');
    return Buffer.from('device-state');
  }
  load(b: Buffer): void {
    this.calls.push(`load:${b.toString()}`);
    if (this.failLoad) throw new Error('bad record');
  }
  abandon(): void {
    this.calls.push('abandon');
  }
}

// The device action each single arc performs.
const ACTION: Record<string, string[]> = {
  [`${R}>${S}`]: ['quiesce'],
  [`${S}>${R}`]: ['resume'],
  [`${S}>${C}`]: ['save'],
  [`${C}>${S}`]: [],
  [`${S}>${M}`]: [],
  [`${M}>${S}`]: ['load:x'],
  [`${R}>${P}`]: [],
  [`${P}>${R}`]: [],
  [`${P}>${C}`]: ['quiesce', 'save'],
};

/** Brings a fresh DeviceMigration into `s` through valid arcs. */
async function reach(m: DeviceMigration, s: MigState): Promise<void> {
  if (s === E) {
    await m.setState(S);
    await m.setState(M);
    m.writeData(Buffer.from('x'));
    (m.device as RecordingDevice).failLoad = true;
    await assert.rejects(m.setState(S));
    (m.device as RecordingDevice).failLoad = false;
    return;
  }
  if (s === M || (s !== R && s !== P)) await m.setState(S);
  if (s !== S) await m.setState(s);
  if (s === M) m.writeData(Buffer.from('x'));
}

describe('migration v2 state machine (device actions per arc)', () => {
  const dma = new DmaSpace();
  for (const from of SUPPORTED_STATES) {
    for (const to of SUPPORTED_STATES) {
      const expected = EXPECTED[from]![to];
      test(`${stateName(from)} -> ${stateName(to)}: ${expected ? 'allowed' : 'refused'}`, async () => {
        const dev = new RecordingDevice();
        const m = new DeviceMigration(dev, dma);
        await reach(m, from);
        assert.equal(m.state, from);
        dev.calls = [];
        if (!expected) {
          await assert.rejects(m.setState(to), (e: unknown) => e instanceof WireError && e.errno === 22);
          assert.equal(m.state, from, 'state unchanged by a refused transition');
          assert.deepEqual(dev.calls, []);
          return;
        }
        await m.setState(to);
        assert.equal(m.state, to);
        const want: string[] = [];
        let at = from;
        for (const next of expected) {
          want.push(...(ACTION[`${at}>${next}`] ?? []));
          at = next;
        }
        assert.deepEqual(dev.calls, want);
      });
    }
  }

  test('a failing arc leaves ERROR; only a device reset leaves it', async () => {
    const dev = new RecordingDevice();
    const m = new DeviceMigration(dev, dma);
    await reach(m, E);
    assert.equal(m.state, E);
    assert.match(m.lastError ?? '', /bad record/);
    for (const s of [S, R, C, M, P]) await assert.rejects(m.setState(s));
    m.deviceReset();
    assert.equal(m.state, R);
    assert.ok(dev.calls.includes('resume'));
  });

  test('RESUMING -> STOP without any data is refused (device to ERROR)', async () => {
    const m = new DeviceMigration(new RecordingDevice(), dma);
    await m.setState(M);
    await assert.rejects(m.setState(S), /no device state/);
    assert.equal(m.state, E);
  });

  test('data is read only in PRE_COPY/STOP_COPY, written only in RESUMING', async () => {
    const m = new DeviceMigration(new RecordingDevice(), dma);
    assert.throws(() => m.readData(10), /PRE_COPY or STOP_COPY/);
    assert.throws(() => m.writeData(Buffer.from('a')), /RESUMING/);
    await m.setState(P);
    assert.equal(m.readData(100).length, 0, 'no pre-copy data');
    await m.setState(C);
    assert.equal(m.pendingBytes, 12);
    assert.equal(m.readData(5).toString(), 'devic');
    assert.equal(m.readData(100).toString(), 'e-state');
    assert.equal(m.readData(100).length, 0);
  });

  test('a client leaving mid-migration: STOP_COPY/RESUMING reset the device; RUNNING/PRE_COPY keep it', async () => {
    for (const s of [C, M, S, E]) {
      const dev = new RecordingDevice();
      const m = new DeviceMigration(dev, dma);
      await reach(m, s);
      dev.calls = [];
      m.clientGone();
      assert.equal(m.state, R, stateName(s));
      assert.deepEqual(dev.calls, ['abandon', 'resume'], stateName(s));
    }
    for (const s of [R, P]) {
      const dev = new RecordingDevice();
      const m = new DeviceMigration(dev, dma);
      await reach(m, s);
      dev.calls = [];
      m.clientGone();
      assert.equal(m.state, R);
      assert.deepEqual(dev.calls, []);
    }
  });
});
