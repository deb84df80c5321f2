// `vnvme rpc` (the client, as SPDK's scripts/rpc.py: same global flags, same per-method
// arguments, same output and exit codes).
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_RPC_SOCKET } from '../../target/rpc/socket-path.js';
import { JsonRpcClient, loadConfig, pyDumps, RpcClientError, saveConfig, SavedConfig } from './client.js';
import { Args, COMMANDS, CommandSpec, PrintMode } from './commands.js';

function intArg(v: string): number {
  if (!/^[-+]?\d+$/.test(v.trim()) && !/^[-+]?0[xX][0-9a-fA-F]+$/.test(v.trim())) throw new InvalidArgumentError(`invalid int value: '${v}'`);
  return Number(v);
}
function floatArg(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError(`invalid float value: '${v}'`);
  return n;
}
const parserFor = (kind: string) => (kind === 'int' ? intArg : kind === 'float' ? floatArg : kind === 'list' ? (v: string) => v.split(',') : undefined);

/** rpc.py's print_json / print_dict. */
export function formatResult(mode: PrintMode, result: unknown): string | undefined {
  if (mode === 'none') return undefined;
  const s = pyDumps(result, 2);
  return mode === 'json' ? s.replace(/^"+|"+$/g, '') : s;
}

interface RpcGlobals {
  serverAddr: string;
  timeout?: number;
  connRetries: number;
  dryRun?: boolean;
  verbose?: string;
}

/** Where `vnvme rpc` prints (stdout; runRpcCli redirects it). */
let sink: (text: string) => void = (text) => void process.stdout.write(text);

function out(line: string): void {
  sink(line + '\n');
}

async function runRpc(spec: CommandSpec, a: Args, g: RpcGlobals): Promise<number> {
  const problem = spec.check?.(a);
  if (problem) {
    out(problem);
    return 1;
  }
  const params = spec.build ? spec.build(a) : {};
  if (g.dryRun) {
    const method = spec.special === 'save_config' ? 'framework_get_subsystems' : spec.special === 'load_config' ? 'rpc_get_methods' : spec.name;
    out('Request:\n' + pyDumps({ method, params: spec.special ? {} : params }, 2));
    return 0;
  }
  let client: JsonRpcClient;
  try {
    client = scriptClient ?? (await JsonRpcClient.connect(g.serverAddr, { timeout: g.timeout, retries: g.connRetries }));
  } catch (err) {
    out(err instanceof Error ? err.message : String(err));
    return 1;
  }
  try {
    if (spec.special === 'save_config') {
      const cfg = await saveConfig(client, { subsystems: a.subsystems, withBatches: a.with_batches });
      const indent = a.indent === undefined || a.indent === null ? 2 : a.indent < 0 ? undefined : a.indent;
      sink(pyDumps(cfg, indent) + '\n');
    } else if (spec.special === 'load_config') {
      const text = a.json_conf !== undefined ? readJsonArg(a.json_conf) : readFileSync(0, 'utf8');
      const skipped = await loadConfig(client, JSON.parse(text) as SavedConfig, a.include_aliases);
      if (skipped) out('Some configs were skipped because the RPC state that can call them passed over.');
    } else {
      const result = await client.call(spec.name, params);
      const text = formatResult(spec.print, result);
      if (text !== undefined) out(text);
    }
    return 0;
  } catch (err) {
    out(err instanceof RpcClientError ? err.message : `${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    if (client !== scriptClient) client.close();
  }
}

/** In script mode every line goes over one connection, as rpc.py's does. */
let scriptClient: JsonRpcClient | undefined;

/** rpc.py's json_load: a path if it exists, else JSON text. */
function readJsonArg(v: string): string {
  try {
    return readFileSync(v, 'utf8');
  } catch {
    return v;
  }
}

function addMethodCommand(rpc: Command, spec: CommandSpec): void {
  const sub = rpc.command(spec.name).description(spec.help).helpOption('-h, --help', 'show this help message and exit');
  for (const p of spec.pos ?? []) {
    const parse = parserFor(p.kind);
    const arg = sub.createArgument(p.optional ? `[${p.name}]` : `<${p.name}>`, p.help);
    if (p.choices) arg.choices(p.choices);
    if (parse) arg.argParser(parse as (v: string) => never);
    sub.addArgument(arg);
  }
  const attr = new Map<string, string>();
  for (const o of spec.opts ?? []) {
    const opt = new Option(o.flags, o.help);
    const parse = parserFor(o.kind);
    if (o.choices && o.kind === 'int') {
      const choices = o.choices;
      opt.argParser((v: string) => {
        if (!choices.includes(v)) throw new InvalidArgumentError(`invalid choice: ${v} (choose from ${choices.join(', ')})`);
        return Number(v);
      });
    } else {
      if (o.choices) opt.choices(o.choices);
      if (parse) opt.argParser(parse as (v: string, prev: unknown) => unknown);
    }
    if (o.required) opt.makeOptionMandatory();
    sub.addOption(opt);
    attr.set(o.dest, opt.attributeName());
    if (o.kind === 'bool') sub.addOption(new Option(o.flags.replace('--', '--no-'), `(negates ${o.flags})`));
  }
  sub.action(async (...argv: unknown[]) => {
    const cmd = argv[argv.length - 1] as Command;
    const opts = cmd.opts();
    const a: Args = {};
    (spec.pos ?? []).forEach((p, i) => (a[p.name] = argv[i]));
    for (const o of spec.opts ?? []) {
      const v = opts[attr.get(o.dest)!];
      // commander reads a '--no-x' flag as the negation of '--x': present means false
      if (o.kind === 'flag') a[o.dest] = /--no-/.test(o.flags) ? v === false : (v ?? false);
      else if (o.kind === 'noflag') a[o.dest] = v ? false : true;
      else a[o.dest] = v ?? o.default;
    }
    const g = rpc.opts() as RpcGlobals;
    exitStatus = await runRpc(spec, a, {
      serverAddr: g.serverAddr,
      timeout: g.timeout,
      connRetries: g.connRetries ?? 0,
      dryRun: g.dryRun,
    });
    process.exitCode = exitStatus;
  });
}

let exitStatus = 0;

/**
 * Runs `vnvme rpc ARGS` in this process and returns its output and exit status, for tests
 * and for tools that script the target without spawning processes.
 */
export async function runRpcCli(args: string[]): Promise<{ status: number; output: string }> {
  let output = '';
  const capture = (text: string) => void (output += text);
  // Settings given before register() are inherited by every subcommand.
  const program = new Command('vnvme').enablePositionalOptions().exitOverride().configureOutput({ writeOut: capture, writeErr: capture });
  inProcess = true;
  try {
    register(program);
  } finally {
    inProcess = false;
  }
  const prev = sink;
  const prevExit = process.exitCode;
  sink = capture;
  exitStatus = 0;
  try {
    await program.parseAsync(['rpc', ...args], { from: 'user' });
  } catch (err) {
    // a usage error (argparse exits 2) or --help (0)
    if (!(err instanceof CommanderError)) throw err;
    exitStatus = err.exitCode === 0 ? 0 : 2;
  } finally {
    sink = prev;
    process.exitCode = prevExit;
  }
  return { status: exitStatus, output };
}

/** Set while runRpcCli builds its own command tree. */
let inProcess = false;

export function register(program: Command): void {
  const rpc = program
    .command('rpc')
    .description("Send SPDK JSON-RPC requests to a target, as SPDK's scripts/rpc.py (same methods, arguments and output)")
    .usage('[options] METHOD [method args]')
    .enablePositionalOptions()
    .option('-s, --server-addr <path>', 'RPC domain socket path', DEFAULT_RPC_SOCKET)
    .option('-p, --port <port>', 'RPC port number (TCP is not supported; accepted for compatibility)', intArg)
    .option('-t, --timeout <seconds>', 'Timeout as a floating point number expressed in seconds waiting for response. Default: 60.0', floatArg)
    .option('-r, --conn-retries <n>', 'Retry connecting to the RPC server N times with 0.2s interval', intArg, 0)
    .option('-v', 'Set verbose mode to INFO')
    .option('--verbose <level>', 'Set verbose level (DEBUG, INFO, ERROR)')
    .option('--dry-run', 'Display request and exit');
  // Usage errors exit with status 2, as argparse's do (runRpcCli keeps its own handling).
  if (!inProcess)
    rpc.exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  for (const spec of COMMANDS) addMethodCommand(rpc, spec);
  // No method: rpc.py's script mode, one command line per stdin line.
  rpc.allowExcessArguments(true).action(async () => {
    if (rpc.args.length) {
      process.stderr.write(`error: unknown RPC method '${rpc.args[0]}' (vnvme rpc --help lists them)\n`);
      process.exitCode = 2;
      return;
    }
    if (process.stdin.isTTY) {
      rpc.outputHelp();
      process.exitCode = 1;
      return;
    }
    const g = rpc.opts() as RpcGlobals;
    let client: JsonRpcClient;
    try {
      client = await JsonRpcClient.connect(g.serverAddr, { timeout: g.timeout, retries: g.connRetries });
    } catch (err) {
      out(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
      return;
    }
    try {
      process.exitCode = await runScript(readFileSync(0, 'utf8'), client);
    } finally {
      client.close();
    }
  });
}

/** Splits a command line as Python's shlex.split does (quotes and backslashes; '#' is not special). */
export function shellSplit(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      cur += line.slice(i + 1, end);
      has = true;
      i = end;
    } else if (ch === '"') {
      has = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new Error('No closing quotation');
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) cur += line[++i];
        else if (line[i] === '"') break;
        else cur += line[i];
      }
    } else if (ch === '\\') {
      cur += line[++i] ?? '';
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** rpc.py script mode: runs each line on `client`; on the first failure prints the lines so far and stops. */
export async function runScript(text: string, client: JsonRpcClient, write: (text: string) => void = sink): Promise<number> {
  let executed = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    executed += '\n' + line;
    let args: string[];
    try {
      args = shellSplit(line);
    } catch (err) {
      out(`${(err as Error).message}: ${line}`);
      return 2;
    }
    if (!args.length || args[0].startsWith('#')) continue;
    scriptClient = client;
    let r;
    try {
      r = await runRpcCli(args);
    } finally {
      scriptClient = undefined;
    }
    if (r.status !== 0) {
      // argparse errors end the script with status 2, RPC errors print the lines run so far
      if (r.status === 2) {
        write(r.output);
        return 2;
      }
      write('Exception:\n' + executed.trim() + ' <<<\n' + r.output);
      return 1;
    }
    write(r.output);
  }
  return 0;
}
