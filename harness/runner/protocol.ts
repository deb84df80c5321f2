// Messages between the runner and a scenario worker (node IPC over fork()).
import type { Check, ScenarioResult } from '../../reports/report-schema.js';
import type { LiveState } from './context.js';

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
}

export type WorkerMessage =
  | { type: 'step'; name: string }
  | { type: 'detail'; text: string }
  | { type: 'check'; check: Check }
  | { type: 'live'; state: LiveState }
  | { type: 'result'; result: ScenarioResult };
