// Messages between the runner and a scenario worker (node IPC over fork()).
import type { Check, ScenarioResult } from '../../reports/report-schema.js';
import type { LiveState } from './context.js';

/** What the command line sets for every scenario of a run (--memory, --doorbells). */
export interface RunSettings {
  /** Guest RAM backend for guests that do not ask for one (default auto: hugepages, else memfd). */
  memory?: 'auto' | 'hugepages' | 'memfd';
  /** Doorbells of the targets' VFIOUSER transport: the mmapped page (default) or messages (`-M`). */
  /** interrupt: message doorbells on a target started with --interrupt-mode. */
  doorbells?: 'mapped' | 'message' | 'interrupt';
  /** Accelerator for guests (default auto: KVM when the probe boots the kernel, else TCG). */
  accel?: 'auto' | 'kvm' | 'tcg';
}

export interface RunRequest {
  type: 'run';
  module: string;
  exportName: string;
  iteration: number;
  /** The scenario's report directory. */
  dir: string;
  /** Short scratch directory for sockets. */
  tmp: string;
  qemu?: string;
  settings?: RunSettings;
}

export type WorkerMessage =
  | { type: 'step'; name: string }
  | { type: 'detail'; text: string }
  | { type: 'check'; check: Check }
  | { type: 'live'; state: LiveState }
  | { type: 'result'; result: ScenarioResult };
