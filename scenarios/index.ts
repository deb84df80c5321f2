// The scenario catalog: every module in scenarios/ that exports a `scenario` (defineScenario),
// the known ones in a fixed run order and any others after them by name. Dropping a new file in
// scenarios/ is enough to add a scenario. Scenario modules import heavy parts (the native addon)
// lazily, inside run(), so listing them is cheap and works without the addon.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario, ScenarioEntry } from '../harness/runner/scenario.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Run order of the scenarios the default suite is made of, then the heavier ones. */
export const SCENARIO_ORDER = [
  'conformance',
  'guest-smoke',
  'guest-nvme-cli',
  'guest-fio-verify',
  'namespace-hotplug',
  'migration-initiator',
  'guest-fio-perf',
  'fault-injection',
  'target-restart',
] as const;

export async function loadCatalog(dir: string = here): Promise<ScenarioEntry[]> {
  const out: ScenarioEntry[] = [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'index.js');
  for (const file of files) {
    const module = join(dir, file);
    const mod = (await import(module)) as { scenario?: Scenario };
    if (!mod.scenario) continue;
    if (out.some((e) => e.scenario.name === mod.scenario!.name)) throw new Error(`two scenarios are named ${mod.scenario.name} (${module})`);
    out.push({ module, exportName: 'scenario', scenario: mod.scenario });
  }
  const rank = (n: string): number => {
    const i = (SCENARIO_ORDER as readonly string[]).indexOf(n);
    return i < 0 ? SCENARIO_ORDER.length : i;
  };
  return out.sort((a, b) => rank(a.scenario.name) - rank(b.scenario.name) || a.scenario.name.localeCompare(b.scenario.name));
}
