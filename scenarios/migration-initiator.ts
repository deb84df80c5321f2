// migration-initiator: the initiator acts as the VMM and live-migrates a running vnvme
// controller between two targets that share guest memory and a file bdev, 50 times in a row
// per protocol version (v2: DEVICE_FEATURE + MIG_DATA; v1: migration region + DIRTY_PAGES,
// as Oracle's QEMU fork speaks it) and doorbell mode, at random moments, under a verifying
// write/read workload with admin traffic and an AER outstanding throughout. Every
// acknowledged write must read back intact; Timestamp, Host Behavior Support, KATO and a block
// marked by Write Uncorrectable set before the first migration are there after the last. Damaged device-state streams must be refused
// cleanly. Reports downtime (guest paused) and total migration time.
import { defineScenario } from '../harness/runner/scenario.js';

const ITERATIONS = 50;

export const scenario = defineScenario({
  name: 'migration-initiator',
  description: `Live migration driven by our initiator as the VMM: ${ITERATIONS} consecutive migrations per protocol (v2, v1) and doorbell mode under a verifying workload; corrupted and truncated device state refused (destination ERROR, source resumes); downtime and total time.`,
  tags: ['default', 'migration'],
  needs: ['initiator'],
  timeoutMs: 10 * 60_000,
  async run(ctx) {
    const { runMigrationInitiator, runRefusal } = await import('./lib/migration-run.js');
    const variants = [
      { protocol: 'v2', doorbells: 'mapped' },
      { protocol: 'v1', doorbells: 'mapped' },
      { protocol: 'v2', doorbells: 'message' },
      { protocol: 'v1', doorbells: 'message' },
    ] as const;
    for (const v of variants) {
      const id = `${v.protocol}.${v.doorbells}`;
      ctx.step(`${ITERATIONS} migrations, ${v.protocol}, ${v.doorbells} doorbells`);
      await ctx.check(
        `${id}.consecutive`,
        {
          title: `${ITERATIONS} consecutive live migrations (${v.protocol}, ${v.doorbells} doorbells) with every acknowledged write intact`,
          area: 'Migration',
          section: v.protocol === 'v2' ? 'vfio-user: DEVICE_FEATURE, MIG_DATA_READ/WRITE (migration v2)' : 'vfio-user (pre-#782): migration region, DIRTY_PAGES (migration v1)',
        },
        async (c) => {
          const r = await runMigrationInitiator({ iterations: ITERATIONS, protocol: v.protocol, doorbells: v.doorbells, seed: 17 });
          const { migrations, ...summary } = r;
          c.add({ note: 'summary', output: JSON.stringify(summary, null, 2) });
          c.add({ note: 'first migrations', output: JSON.stringify(migrations.slice(0, 3), null, 2) });
          ctx.metric({ name: `downtime median (${id})`, value: r.downtimeMs.median, unit: 'ms', group: 'migration downtime', series: id });
          ctx.metric({ name: `downtime p95 (${id})`, value: r.downtimeMs.p95, unit: 'ms', group: 'migration downtime p95', series: id });
          ctx.metric({ name: `downtime max (${id})`, value: r.downtimeMs.max, unit: 'ms', group: 'migration downtime max', series: id });
          ctx.metric({ name: `total time median (${id})`, value: r.totalMs.median, unit: 'ms', group: 'migration total time', series: id });
          ctx.fact(`${id}.recordBytes`, r.recordBytes);
          c.equal('errors', [], r.errors);
          c.equal('migrations completed', ITERATIONS, r.completed);
          c.ok(r.verifiedAtEnd > 0, 'acknowledged writes read back after the last migration', '> 0 slots verified', `${r.verifiedAtEnd} slots, ${r.writes} writes, ${r.verifiedReads} verified reads`);
          c.ok(r.aerCarried, 'AER submitted before the first migration', 'completes on the last target', String(r.aerCarried));
          c.ok(r.adminCommands > 0, 'admin commands during migrations', '> 0', String(r.adminCommands));
          c.ok(r.inflightAtStop > 0, 'commands outstanding when the guest paused', '> 0 over all migrations', String(r.inflightAtStop));
          c.equal('completions for no outstanding command (acknowledged twice)', 0, r.strayCompletions);
          const f = r.featureState;
          c.ok(
            f !== null && f.timestampOrigin === 1 && f.hostBehavior.join() === '1,0,1' && f.katoMs === 600_000 && (f.uncorrectableReadStatus & 0x7ff) === 0x281,
            'Timestamp, Host Behavior Support, KATO and Write Uncorrectable blocks set on the first target (record version 2)',
            'on the last target: Timestamp counted on (Origin 001b), ACRE/LBAFEE 1, KATO 600000, the marked block reads Unrecovered Read Error (281h)',
            JSON.stringify(f),
          );
        },
      );
    }
    ctx.step('I/O served in TypeScript and in flight at STOP');
    await ctx.check(
      'v2.delay.inflight',
      { title: '20 migrations with I/O in flight inside the target (delay bdev, served in TypeScript) complete with nothing lost or doubled', area: 'Migration', section: '' },
      async (c) => {
        const r = await runMigrationInitiator({ iterations: 20, protocol: 'v2', delayUs: 1500, seed: 23 });
        const { migrations, ...summary } = r;
        void migrations;
        c.add({ note: 'summary', output: JSON.stringify(summary, null, 2) });
        c.equal('errors', [], r.errors);
        c.ok(r.passed, 'scenario verdict', 'passed', JSON.stringify({ completed: r.completed, verifiedAtEnd: r.verifiedAtEnd }));
      },
    );
    ctx.step('shadow doorbells');
    await ctx.check(
      'v2.shadow',
      { title: '20 migrations with shadow doorbells (Doorbell Buffer Config, message mode): buffers and event indexes carry over', area: 'Migration', section: 'NVMe Base 2.1 5.1.7 (Doorbell Buffer Config)' },
      async (c) => {
        const r = await runMigrationInitiator({ iterations: 20, protocol: 'v2', doorbells: 'message', shadowDoorbells: true, seed: 31 });
        const { migrations, ...summary } = r;
        void migrations;
        c.add({ note: 'summary', output: JSON.stringify(summary, null, 2) });
        c.equal('errors', [], r.errors);
        c.ok(r.passed, 'scenario verdict', 'passed', JSON.stringify({ completed: r.completed, verifiedAtEnd: r.verifiedAtEnd }));
      },
    );
    for (const protocol of ['v2', 'v1'] as const) {
      for (const corruption of ['truncated', 'flipped', 'magic', 'version'] as const) {
        await ctx.check(
          `${protocol}.refuse.${corruption}`,
          { title: `${protocol}: a ${corruption} device-state stream is refused; destination in ERROR, source resumes, destination recovers`, area: 'Migration', section: '' },
          async (c) => {
            const r = await runRefusal(protocol, corruption);
            c.add({ note: 'result', output: JSON.stringify(r, null, 2) });
            c.ok(r.refused, 'destination', 'refuses the stream', r.refused ? `refused: ${r.reason}` : 'accepted it');
            c.equal('destination state after the refusal (0 = ERROR)', 0, r.destinationState);
            c.ok(r.sourceResumed, 'source', 'resumes; all acknowledged data intact', String(r.sourceResumed));
            c.ok(r.destinationRecovered, 'destination after its client left', 'accepts a good migration', String(r.destinationRecovered));
          },
        );
      }
    }
  },
});
