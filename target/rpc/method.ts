// RPC method declarations: one zod schema per method is the single source of truth for its
// parameter names, types, required-ness and defaults, as SPDK's schema/schema.yaml is for its
// generated decoders. Unknown keys are ignored with a warning (rpc.py releases keep adding
// false-valued keys; we accept the union and tolerate what comes next); wrong types and
// missing required keys are -32602 naming the parameter.
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { ConnectionInfo, JsonRpcRequest } from './jsonrpc.js';
import { TargetError } from '../errors.js';
import { INVALID_STATE, invalidParams, METHOD_NOT_FOUND, RpcError, rpcErrorOf } from './errors.js';

export type RpcState = 'startup' | 'runtime';

export interface MethodContext {
  log: Logger;
  conn?: ConnectionInfo;
}

export interface RpcMethod<C> {
  name: string;
  /** Parameter schema; absent when the method takes none (extra params are then ignored). */
  params?: z.ZodObject;
  /** States in which the method may be called (SPDK_RPC_STARTUP / SPDK_RPC_RUNTIME). Default runtime. */
  states?: RpcState[];
  /** States in which rpc_get_methods --current lists it; default `states`. */
  listedStates?: RpcState[];
  /** Deprecated names still accepted (rpc_get_methods include_aliases). */
  aliases?: string[];
  /** Whether the method only reads state (it then runs without waiting for mutations). */
  readOnly?: boolean;
  handler(params: any, ctx: C & MethodContext): unknown;
}

export interface MethodDef<C, S extends z.ZodObject | undefined> {
  name: string;
  params?: S;
  states?: RpcState[];
  listedStates?: RpcState[];
  aliases?: string[];
  readOnly?: boolean;
  handler(params: S extends z.ZodObject ? z.output<S> : Record<string, never>, ctx: C & MethodContext): unknown;
}

/** A declarer for methods on context C, whose handlers are typed by their schema. */
export function methodsFor<C>() {
  return <S extends z.ZodObject | undefined = undefined>(def: MethodDef<C, S>): RpcMethod<C> => def as RpcMethod<C>;
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  for (;;) {
    if (cur instanceof z.ZodOptional || cur instanceof z.ZodDefault || cur instanceof z.ZodNullable) cur = (cur as unknown as { unwrap(): z.ZodType }).unwrap();
    else return cur;
  }
}

/** Keys present in `value` that the schema does not declare, as dotted paths. */
export function unknownKeys(schema: z.ZodObject, value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const out: string[] = [];
  const shape = schema.shape as Record<string, z.ZodType>;
  for (const [k, v] of Object.entries(value)) {
    const field = shape[k];
    if (!field) out.push(prefix + k);
    else {
      const inner = unwrap(field);
      if (inner instanceof z.ZodObject) out.push(...unknownKeys(inner, v, `${prefix}${k}.`));
    }
  }
  return out;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function valueAt(v: unknown, path: PropertyKey[]): unknown {
  let cur = v;
  for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[p] : undefined;
  return cur;
}

/** Decodes params against the schema: -32602 naming the parameter, warnings for unknown keys. */
export function decodeParams(m: RpcMethod<unknown>, raw: unknown, log: Logger): Record<string, unknown> {
  if (!m.params) {
    if (raw !== undefined && !(typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).length === 0))
      log.warn(`${m.name} takes no parameters; ignoring them`, { params: raw });
    return {};
  }
  if (Array.isArray(raw)) throw invalidParams(`${m.name} takes named parameters (an object), not an array`);
  const value = raw ?? {};
  const extra = unknownKeys(m.params, value);
  if (extra.length) log.warn(`${m.name}: ignoring unknown parameter${extra.length > 1 ? 's' : ''} ${extra.join(', ')}`);
  const r = m.params.safeParse(value);
  if (r.success) return r.data as Record<string, unknown>;
  const problems = r.error.issues.map((i) => {
    const name = i.path.join('.');
    const got = valueAt(value, i.path);
    if (got === undefined && i.code === 'invalid_type') return `missing required parameter '${name}'`;
    const msg = i.message.replace(/^Invalid input: /, '');
    return name ? `'${name}' ${msg} (got ${describe(got)})` : msg;
  });
  throw invalidParams(problems.join('; '));
}

/** The table of methods of one target, and the dispatcher the JSON-RPC server calls. */
export class MethodTable<C> {
  private readonly methods = new Map<string, RpcMethod<C>>();
  private readonly aliases = new Map<string, string>();
  /** Mutating calls run one at a time across connections, as SPDK's single RPC thread does. */
  private lock: Promise<unknown> = Promise.resolve();
  state: RpcState = 'runtime';

  constructor(
    private readonly ctx: C,
    private readonly log: Logger,
  ) {}

  add(...ms: RpcMethod<C>[]): void {
    for (const m of ms) {
      this.methods.set(m.name, m);
      for (const a of m.aliases ?? []) this.aliases.set(a, m.name);
    }
  }

  has(name: string): boolean {
    return this.methods.has(name) || this.aliases.has(name);
  }

  /** rpc_get_methods: names, optionally only those callable now, optionally with aliases. */
  names(current: boolean, includeAliases: boolean): string[] {
    const out: string[] = [];
    for (const m of this.methods.values()) {
      const states = m.listedStates ?? m.states ?? ['runtime'];
      if (current && !states.includes(this.state)) continue;
      out.push(m.name);
      if (includeAliases) out.push(...(m.aliases ?? []));
    }
    return out;
  }

  /** Calls a method by name with raw params, as a request from a connection would. */
  async call(name: string, raw: unknown, conn?: ConnectionInfo): Promise<unknown> {
    const m = this.methods.get(name) ?? this.methods.get(this.aliases.get(name) ?? '');
    if (!m) throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${name}`);
    if (m.name !== name) this.log.warn(`${name} is deprecated, use ${m.name} instead`);
    const states = m.states ?? ['runtime'];
    if (!states.includes(this.state))
      throw new RpcError(
        INVALID_STATE,
        this.state === 'runtime'
          ? `Method ${name} may only be called before the framework is initialized (it is)`
          : 'Method may only be called after framework is initialized using framework_start_init RPC.',
      );
    const params = decodeParams(m as RpcMethod<unknown>, raw, this.log);
    const run = async () => {
      this.log.debug('RPC call', { method: m.name, params: raw });
      try {
        // Methods log under their area (bdev, nvmf, framework...), so -L bdev selects them.
        return await m.handler(params, { ...this.ctx, log: this.log.child(m.name.split('_')[0]), conn });
      } catch (err) {
        // The target's layers say what failed; the reply's code and text are chosen here.
        throw err instanceof TargetError ? rpcErrorOf(err) : err;
      }
    };
    if (m.readOnly) return run();
    const result = this.lock.then(run, run);
    this.lock = result.catch(() => {});
    return result;
  }

  dispatch = (req: JsonRpcRequest, conn: ConnectionInfo): Promise<unknown> => this.call(req.method, req.params, conn);
}

// Parameter types as SPDK's decoders name them.
export const u8 = () => z.number().int().min(0).max(0xff);
export const u16 = () => z.number().int().min(0).max(0xffff);
export const u32 = () => z.number().int().min(0).max(0xffffffff);
export const i32 = () => z.number().int().min(-0x80000000).max(0x7fffffff);
export const u64 = () => z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const uuid = () => z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID');
