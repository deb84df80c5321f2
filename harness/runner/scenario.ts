// What a scenario is: a typed module with a name, what it is for, tags that select it, what it
// needs from the machine, a time limit, and a body that drives a ScenarioContext.
import type { ScenarioContext } from './context.js';

/**
 * initiator: our native addon (vfio-user client) loads; qemu: a QEMU with vfio-user-pci and the
 * guest image can be provisioned; kvm: /dev/kvm is usable; migration-qemu: the QEMU speaks
 * vfio-user migration (Oracle's fork, x-enable-migration).
 */
export type Need = 'initiator' | 'qemu' | 'kvm' | 'migration-qemu';

export interface Scenario {
  name: string;
  description: string;
  /** `default` puts it in the suite `npm run scenario` runs with no arguments. */
  tags: readonly string[];
  needs: readonly Need[];
  timeoutMs: number;
  run(ctx: ScenarioContext): Promise<void>;
}

export function defineScenario(s: Scenario): Scenario {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(s.name)) throw new Error(`scenario name "${s.name}": lower-case letters, digits and dashes`);
  return s;
}

/** Where the runner finds a scenario: a compiled module and the export that holds it. */
export interface ScenarioEntry {
  /** Absolute path (or file: URL) of the compiled module. */
  module: string;
  exportName: string;
  scenario: Scenario;
}

/** Thrown by a check body for a device defect (expected vs actual did not match). */
export class CheckFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailed';
  }
}

/** Thrown to skip a check or (outside checks) the whole scenario, with the reason. */
export class Skip extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Skip';
  }
}
