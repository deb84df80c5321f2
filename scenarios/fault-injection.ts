import { defineScenario } from '../harness/runner/scenario.js';
export const scenario = defineScenario({
  name: 'fault-injection',
  description: 'TODO',
  tags: ['heavy'],
  needs: ['qemu'],
  timeoutMs: 30 * 60_000,
  async run(ctx) {
    ctx.skip('not written yet');
  },
});
