// conformance: the initiator's host-side conformance suite against our target process (as
// users start it), once with the mmapped doorbell page and once with message doorbells
// (`nvmf_create_transport -t VFIOUSER -M`: BAR0 not mappable, every doorbell a REGION_WRITE).
// Each case becomes a check with its spec section and command/completion evidence. Documented
// gaps (expected failures) are reported as skipped with what is missing, never as passed.
import type { Check, Evidence } from '../reports/report-schema.js';
import { defineScenario } from '../harness/runner/scenario.js';

const AREAS: Record<string, string> = {
  reg: 'Registers',
  regs: 'Registers',
  registers: 'Registers',
  identify: 'Identify',
  admin: 'Admin',
  features: 'Features',
  feature: 'Features',
  logs: 'Log pages',
  log: 'Log pages',
  queues: 'Queues',
  queue: 'Queues',
  io: 'NVM I/O',
  nvm: 'NVM I/O',
  events: 'Async events',
  aer: 'Async events',
  reset: 'Reset',
  doorbell: 'Queues',
  dbbuf: 'Queues',
};

export function areaOf(caseId: string): string {
  const parts = caseId.split('.');
  for (const p of parts.slice(0, 2)) if (AREAS[p]) return AREAS[p]!;
  return parts[0] ? parts[0][0]!.toUpperCase() + parts[0].slice(1) : 'Conformance';
}

export const scenario = defineScenario({
  name: 'conformance',
  description: "The initiator's host-side NVMe/vfio-user conformance suite against a `vnvme target` process, in both doorbell modes (mapped page and message).",
  tags: ['default', 'host', 'conformance'],
  needs: ['initiator'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const { runConformance } = await import('../harness/initiator/conformance/index.js');
    // Both modes, unless the run chose one (--doorbells): then that one, as every scenario.
    const modes = ctx.settings.doorbells ? [ctx.settings.doorbells] : (['mapped', 'message'] as const);
    for (const mode of modes) {
      ctx.step(`${mode} doorbells: start target`);
      const t = await ctx.target(`target-${mode}`);
      const trapped = mode !== 'mapped';
      let socket = '';
      const ok = await ctx.check(`${mode}/setup`, { title: `target configured over RPC (${mode} doorbells)`, area: 'Harness', section: '' }, async (c) => {
        await c.rpc(t, 'nvmf_create_transport', '-t', 'VFIOUSER', ...(trapped ? ['-M'] : []));
        await c.rpc(t, 'bdev_malloc_create', '-b', 'Malloc0', '16', '512');
        await c.rpc(t, 'bdev_malloc_create', '-b', 'Malloc1', '1', '512');
        await c.rpc(t, 'bdev_delay_create', '-b', 'Malloc1', '-d', 'Delay1', '-r', '100000', '-t', '100000', '-w', '100000', '-n', '100000');
        // An error bdev injecting nothing: its namespace is served through TypeScript, so the
        // NVM command set cases run on that data path too.
        await c.rpc(t, 'bdev_malloc_create', '-b', 'Malloc2', '2', '512');
        await c.rpc(t, 'bdev_error_create', 'Malloc2');
        const nqn = 'nqn.2019-07.io.spdk:cnode-conformance';
        await c.rpc(t, 'nvmf_create_subsystem', nqn, '-a', '-s', 'VNVMECONF0001', '-d', 'vnvme conformance target');
        await c.rpc(t, 'nvmf_subsystem_add_ns', nqn, 'Malloc0');
        await c.rpc(t, 'nvmf_subsystem_add_ns', nqn, 'Delay1');
        await c.rpc(t, 'nvmf_subsystem_add_ns', nqn, 'EE_Malloc2');
        // A 16 MiB namespace pool (vnvme's own RPC), so the Namespace Management and
        // Attachment cases run; a second listener is the subsystem's other controller.
        await c.rpc(t, 'vnvme_subsystem_set_ns_pool', nqn, '16');
        const dir = `${t.workDir}/cnode`;
        const { mkdirSync, existsSync } = await import('node:fs');
        mkdirSync(dir, { recursive: true });
        await c.rpc(t, 'nvmf_subsystem_add_listener', nqn, '-t', 'VFIOUSER', '-a', dir, '-s', '0');
        mkdirSync(`${dir}-second`, { recursive: true, mode: 0o700 });
        await c.rpc(t, 'nvmf_subsystem_add_listener', nqn, '-t', 'VFIOUSER', '-a', `${dir}-second`, '-s', '0');
        socket = `${dir}/cntrl`;
        for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
        c.ok(existsSync(socket), 'listener socket exists', socket, existsSync(socket) ? socket : 'missing');
      });
      if (!ok) continue;
      ctx.step(`${mode} doorbells: conformance suite`);
      let n = 0;
      const rep = await runConformance({
        socketPath: socket,
        mode: trapped ? 'message' : 'mapped',
        subnqn: 'nqn.2019-07.io.spdk:cnode-conformance',
        // NSID 2 (Delay1) keeps I/O in flight long enough for reset/abort/deletion cases;
        // NSID 3 (EE_Malloc2) is served through TypeScript.
        slowNsid: 2,
        upcallNsid: 3,
        onResult: (r) => {
          n++;
          ctx.progress.detail(`${n} cases, last ${r.id}: ${r.verdict}`);
          const evidence: Evidence[] = [{ note: `procedure: ${r.procedure}`, expected: r.expected }];
          for (const e of r.evidence) {
            if ('note' in e) evidence.push({ note: e.note });
            else evidence.push({ command: `${e.command}${e.fields ? ` ${e.fields}` : ''}`, where: `initiator q${e.queue}`, actual: `${e.status} (0x${e.statusRaw.toString(16)}) dw0=0x${(e.dw0 >>> 0).toString(16)}` });
          }
          const verdict: Check['verdict'] = r.verdict === 'pass' ? 'pass' : r.verdict === 'fail' ? 'fail' : 'skip';
          const message = r.verdict === 'expected-failure' ? `expected failure, documented gap: ${r.missing}${r.detail ? ` (${r.detail})` : ''}` : r.detail;
          ctx.record({ id: `${mode}/${r.id}`, title: r.title, area: areaOf(r.id), section: r.section, level: r.level, verdict, message, durationMs: r.ms, evidence });
        },
      });
      ctx.fact(`${mode}.doorbells`, rep.mode);
      ctx.fact(`${mode}.summary`, `${rep.summary.total} cases: ${rep.summary.pass} pass, ${rep.summary.fail} fail, ${rep.summary['expected-failure']} expected failures, ${rep.summary.skip} skipped`);
      ctx.metric({ name: `${mode} suite duration`, value: rep.durationMs, unit: 'ms' });
      await t.stop();
    }
  },
});
