// The scenario catalog: every scenario module `npm run scenario` knows, in run order. Scenario
// modules import heavy parts (the native addon) lazily, so listing them is cheap.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario, ScenarioEntry } from '../harness/runner/scenario.js';

const here = dirname(fileURLToPath(import.meta.url));

export const SCENARIO_MODULES = [
  'conformance.js',
  'guest-smoke.js',
  'guest-nvme-cli.js',
  'guest-fio-verify.js',
  'namespace-hotplug.js',
  'guest-fio-perf.js',
  'fault-injection.js',
  'target-restart.js',
  'migration-initiator.js',
  'migration-qemu.js',
] as const;

export async function loadCatalog(): Promise<ScenarioEntry[]> {
  const out: ScenarioEntry[] = [];
  for (const file of SCENARIO_MODULES) {
    const module = join(here, file);
    const mod = (await import(module)) as { scenario?: Scenario };
    if (!mod.scenario) throw new Error(`${module} exports no \`scenario\``);
    out.push({ module, exportName: 'scenario', scenario: mod.scenario });
  }
  return out;
}
