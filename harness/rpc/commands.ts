// `vnvme rpc METHOD ...`: the command line of each method, as SPDK's python/spdk/cli/*.py
// declares it (positional arguments, short and long flags, defaults, choices) and the
// params it builds, in the order rpc.py sends them, with its client-side conversions
// (bdev_malloc_create takes MiB and sends num_blocks; listener and namespace keys grouped).
//
// Values absent on the command line are undefined and dropped (rpc.py's remove_null); flags
// (argparse store_true) default to false and are sent, as rpc.py sends them.

export type ArgKind = 'str' | 'int' | 'float' | 'flag' | 'noflag' | 'list' | 'bool';

export interface OptSpec {
  /** commander flags, e.g. '-b, --name <name>' or '-z, --zcopy' */
  flags: string;
  dest: string;
  kind: ArgKind;
  help: string;
  required?: boolean;
  choices?: string[];
  default?: unknown;
}

export interface PosSpec {
  name: string;
  kind: 'str' | 'int' | 'float';
  help: string;
  optional?: boolean;
  choices?: string[];
}

export type PrintMode = 'json' | 'dict' | 'none';

export interface CommandSpec {
  name: string;
  help: string;
  pos?: PosSpec[];
  opts?: OptSpec[];
  /** params to send, from parsed args keyed by dest; undefined values are dropped */
  build?(a: Args): Record<string, unknown>;
  print: PrintMode;
  /** client-side compositions (save_config, load_config) */
  special?: 'save_config' | 'load_config';
  /** rpc.py exits with this message (and status 1) before sending anything */
  check?(a: Args): string | undefined;
}

export type Args = Record<string, any>;

/** The args whose dests are listed, in that order (argparse definition order for strip_globals methods). */
export function pick(a: Args, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (a[k] !== undefined && a[k] !== null) out[k] = a[k];
  return out;
}

/** rpc.py's group_as: move the listed keys (present ones) into a nested object at the end. */
function groupAs(params: Record<string, unknown>, name: string, keys: string[]): Record<string, unknown> {
  const group: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (keys.includes(k)) {
      if (v !== undefined && v !== null) group[k] = v;
    } else rest[k] = v;
  }
  if (Object.keys(group).length) rest[name] = group;
  return rest;
}

const tgtName = (short: string): OptSpec => ({ flags: `${short}, --tgt-name <name>`, dest: 'tgt_name', kind: 'str', help: 'Parent NVMe-oF target name' });
const nqnPos: PosSpec = { name: 'nqn', kind: 'str', help: 'Subsystem NQN' };
const namePos = (help: string): PosSpec => ({ name: 'name', kind: 'str', help });

const DISCOVERY = 'nqn.2014-08.org.nvmexpress.discovery';

const ONCS = ['nvmcmps', 'nvmdsmsv', 'nvmwzsv', 'reservs', 'nvmcpys'];
const FUSES = ['fcws'];

const listenerOpts: OptSpec[] = [
  { flags: '-t, --trtype <trtype>', dest: 'trtype', kind: 'str', help: 'NVMe-oF transport type: e.g., rdma', required: true },
  { flags: '-a, --traddr <traddr>', dest: 'traddr', kind: 'str', help: 'NVMe-oF transport address: e.g., an ip address', required: true },
  tgtName('-p'),
  { flags: '-f, --adrfam <adrfam>', dest: 'adrfam', kind: 'str', help: 'NVMe-oF transport adrfam: e.g., ipv4, ipv6, ib, fc, intra_host' },
  { flags: '-s, --trsvcid <trsvcid>', dest: 'trsvcid', kind: 'str', help: 'NVMe-oF transport service id: e.g., a port number' },
];

export const COMMANDS: CommandSpec[] = [
  // --- app / misc ---------------------------------------------------------------------------
  {
    name: 'rpc_get_methods',
    help: 'Get list of supported RPC methods',
    opts: [
      { flags: '-c, --current', dest: 'current', kind: 'flag', help: 'Return only RPC methods callable in the current state. Default: false' },
      { flags: '-i, --include-aliases', dest: 'include_aliases', kind: 'flag', help: 'Include deprecated method aliases in the result. Default: false' },
    ],
    build: (a) => pick(a, ['current', 'include_aliases']),
    print: 'dict',
  },
  {
    name: 'spdk_kill_instance',
    help: 'Send signal to instance',
    pos: [{ name: 'sig_name', kind: 'str', help: 'Signal to send', choices: ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGKILL', 'SIGUSR1'] }],
    build: (a) => pick(a, ['sig_name']),
    print: 'none',
  },
  { name: 'framework_start_init', help: 'Start initialization of subsystems', print: 'none' },
  { name: 'framework_wait_init', help: 'Block until subsystems have been initialized', print: 'none' },
  { name: 'spdk_get_version', help: 'Get SPDK version', print: 'json' },
  { name: 'log_set_flag', help: 'set log flag', pos: [{ name: 'flag', kind: 'str', help: 'log flag we want to set. (for example "nvme").' }], build: (a) => pick(a, ['flag']), print: 'none' },
  { name: 'log_clear_flag', help: 'clear log flag', pos: [{ name: 'flag', kind: 'str', help: 'log flag we want to clear. (for example "nvme").' }], build: (a) => pick(a, ['flag']), print: 'none' },
  { name: 'log_get_flags', help: 'get log flags', print: 'dict' },
  { name: 'log_set_level', help: 'set log level', pos: [{ name: 'level', kind: 'str', choices: ['ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'], help: 'log level we want to set. (for example "DEBUG").' }], build: (a) => pick(a, ['level']), print: 'none' },
  { name: 'log_get_level', help: 'get log level', print: 'dict' },
  { name: 'log_set_print_level', help: 'set log print level', pos: [{ name: 'level', kind: 'str', choices: ['ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'], help: 'log print level we want to set. (for example "DEBUG").' }], build: (a) => pick(a, ['level']), print: 'none' },
  { name: 'log_get_print_level', help: 'get log print level', print: 'dict' },
  {
    name: 'save_config',
    help: 'Write current (live) configuration of SPDK subsystems and targets to stdout.',
    opts: [
      { flags: '-i, --indent <n>', dest: 'indent', kind: 'int', help: 'Indent level. Value less than 0 mean compact mode. Default indent level is 2.', default: 2 },
      { flags: '-s, --subsystems <list>', dest: 'subsystems', kind: 'str', help: 'Comma-separated list of subsystems (and their dependencies) to save' },
      { flags: '--with-batches', dest: 'with_batches', kind: 'bool', help: 'Keep batch arrays in output; --no-with-batches flattens them (default)', default: false },
    ],
    print: 'none',
    special: 'save_config',
  },
  {
    name: 'load_config',
    help: 'Configure SPDK subsystems and targets using JSON RPC.',
    opts: [
      { flags: '-i, --include-aliases', dest: 'include_aliases', kind: 'flag', help: 'include RPC aliases' },
      { flags: '-j, --json-conf <file>', dest: 'json_conf', kind: 'str', help: 'Valid JSON configuration (default: stdin)' },
    ],
    print: 'none',
    special: 'load_config',
  },
  {
    name: 'framework_get_subsystems',
    help: 'Print subsystems array in initialization order. Each subsystem entry contain (unsorted) array of subsystems it depends on.',
    print: 'dict',
  },
  {
    name: 'framework_get_config',
    help: 'Print subsystem configuration',
    pos: [{ name: 'name', kind: 'str', help: 'Name of the SPDK subsystem to query' }],
    opts: [{ flags: '--with-batches', dest: 'with_batches', kind: 'bool', help: 'Keep batch arrays in output. Default: false', default: false }],
    build: (a) => pick(a, ['name', 'with_batches']),
    print: 'dict',
  },

  // --- bdev -----------------------------------------------------------------------------------
  {
    name: 'bdev_malloc_create',
    help: 'Create a bdev with malloc backend',
    pos: [
      { name: 'total_size', kind: 'float', help: 'Size of malloc bdev in MB (float > 0)' },
      { name: 'block_size', kind: 'int', help: 'Data block size for this bdev' },
    ],
    opts: [
      { flags: '-b, --name <name>', dest: 'name', kind: 'str', help: 'Name of the bdev' },
      { flags: '-u, --uuid <uuid>', dest: 'uuid', kind: 'str', help: 'UUID of the bdev (optional)' },
      { flags: '-p, --physical-block-size <n>', dest: 'physical_block_size', kind: 'int', help: 'Physical block size for this bdev.' },
      { flags: '-o, --optimal-io-boundary <n>', dest: 'optimal_io_boundary', kind: 'int', help: 'Split on optimal IO boundary, in number of blocks, default 0 (disabled)' },
      { flags: '-m, --md-size <n>', dest: 'md_size', kind: 'int', help: 'Metadata size for this bdev (0, 8, 16, 32, 64, or 128). Default is 0.' },
      { flags: '-i, --md-interleave', dest: 'md_interleave', kind: 'flag', help: 'Metadata location, interleaved if set, and separated if omitted.' },
      { flags: '-t, --dif-type <n>', dest: 'dif_type', kind: 'int', help: 'Protection information type. Default=0 - no protection.', choices: ['0', '1', '2', '3'] },
      { flags: '-d, --dif-is-head-of-md', dest: 'dif_is_head_of_md', kind: 'flag', help: 'Protection information is in the first 8 bytes of metadata. Default=false.' },
      { flags: '-f, --dif-pi-format <n>', dest: 'dif_pi_format', kind: 'int', help: 'Protection information format. 0=16b, 1=32b, 2=64b Guard PI. Default=0.', choices: ['0', '1', '2'] },
      { flags: '-n, --numa-id <n>', dest: 'numa_id', kind: 'int', help: 'NUMA node ID where memory is allocated, -1 for any. Default is -1.' },
    ],
    build: (a) => ({
      ...pick({ num_blocks: Math.floor((a.total_size * 1024 * 1024) / a.block_size) }, ['num_blocks']),
      ...pick(a, ['block_size', 'physical_block_size', 'name', 'uuid', 'optimal_io_boundary', 'md_size', 'md_interleave', 'dif_type', 'dif_is_head_of_md', 'dif_pi_format', 'numa_id']),
    }),
    print: 'json',
  },
  { name: 'bdev_malloc_delete', help: 'Delete a malloc disk', pos: [namePos('malloc bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_null_create',
    help: 'Add a bdev with null backend',
    pos: [
      namePos('Block device name'),
      { name: 'total_size', kind: 'int', help: 'Size of null bdev in MB (int > 0). Includes only data blocks.' },
      { name: 'block_size', kind: 'int', help: 'Data block size for this bdev.' },
    ],
    opts: [
      { flags: '-u, --uuid <uuid>', dest: 'uuid', kind: 'str', help: 'UUID of the bdev (optional)' },
      { flags: '-p, --physical-block-size <n>', dest: 'physical_block_size', kind: 'int', help: 'Physical block size for this bdev.' },
      { flags: '-m, --md-size <n>', dest: 'md_size', kind: 'int', help: 'Metadata size for this bdev. Default=0.' },
      { flags: '-t, --dif-type <n>', dest: 'dif_type', kind: 'int', help: 'Protection information type. Default=0 - no protection.', choices: ['0', '1', '2', '3'] },
      { flags: '-d, --dif-is-head-of-md', dest: 'dif_is_head_of_md', kind: 'flag', help: 'Protection information is in the first 8 bytes of metadata. Default=false.' },
      { flags: '-f, --dif-pi-format <n>', dest: 'dif_pi_format', kind: 'int', help: 'Protection information format. Default=0.', choices: ['0', '1', '2'] },
      { flags: '-a, --preferred-write-alignment <n>', dest: 'preferred_write_alignment', kind: 'int', help: 'Preferred write alignment in blocks.' },
      { flags: '-g, --preferred-write-granularity <n>', dest: 'preferred_write_granularity', kind: 'int', help: 'Preferred write granularity in blocks.' },
      { flags: '-s, --optimal-write-size <n>', dest: 'optimal_write_size', kind: 'int', help: 'Optimal write size in blocks.' },
      { flags: '-c, --preferred-unmap-alignment <n>', dest: 'preferred_unmap_alignment', kind: 'int', help: 'Preferred unmap alignment in blocks.' },
      { flags: '-r, --preferred-unmap-granularity <n>', dest: 'preferred_unmap_granularity', kind: 'int', help: 'Preferred unmap granularity in blocks.' },
    ],
    check: (a) => (a.dif_type && !a.md_size ? 'ERROR: --md-size must be > 0 when --dif-type is > 0' : undefined),
    build: (a) => ({
      num_blocks: Math.floor((a.total_size * 1024 * 1024) / a.block_size),
      ...pick(a, [
        'block_size',
        'physical_block_size',
        'name',
        'uuid',
        'md_size',
        'dif_type',
        'dif_is_head_of_md',
        'dif_pi_format',
        'preferred_write_alignment',
        'preferred_write_granularity',
        'optimal_write_size',
        'preferred_unmap_alignment',
        'preferred_unmap_granularity',
      ]),
    }),
    print: 'json',
  },
  { name: 'bdev_null_delete', help: 'Delete a null bdev', pos: [namePos('null bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_aio_create',
    help: 'Add a bdev with aio backend',
    pos: [
      { name: 'filename', kind: 'str', help: 'Path to device or file (ex: /dev/sda)' },
      namePos('Block device name'),
      { name: 'block_size', kind: 'int', help: 'Block size for this bdev', optional: true },
    ],
    opts: [
      { flags: '-r, --readonly', dest: 'readonly', kind: 'flag', help: 'Set this bdev as read-only' },
      { flags: '--fallocate', dest: 'fallocate', kind: 'flag', help: 'Support unmap/writezeros by fallocate' },
      { flags: '-u, --uuid <uuid>', dest: 'uuid', kind: 'str', help: 'UUID of the bdev (optional)' },
      { flags: '--no-wait', dest: 'nowait', kind: 'flag', help: 'Enable the RWF_NOWAIT flag for block devices.' },
    ],
    build: (a) => pick(a, ['filename', 'name', 'block_size', 'readonly', 'fallocate', 'uuid', 'nowait']),
    print: 'json',
  },
  { name: 'bdev_aio_delete', help: 'Delete an aio disk', pos: [namePos('aio bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_uring_create',
    help: 'Create a bdev with io_uring backend',
    pos: [
      { name: 'filename', kind: 'str', help: 'Path to device or file (ex: /dev/nvme0n1)' },
      namePos('bdev name'),
      { name: 'block_size', kind: 'int', help: 'Block size for this bdev', optional: true },
    ],
    opts: [{ flags: '-u, --uuid <uuid>', dest: 'uuid', kind: 'str', help: 'UUID of the bdev' }],
    build: (a) => pick(a, ['filename', 'name', 'block_size', 'uuid']),
    print: 'json',
  },
  { name: 'bdev_uring_delete', help: 'Delete a uring bdev', pos: [namePos('uring bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_zone_block_create',
    help: 'Create virtual zone namespace device with block device backend',
    opts: [
      { flags: '-b, --name <name>', dest: 'name', kind: 'str', help: 'Name of the zone device', required: true },
      { flags: '-n, --base-bdev <name>', dest: 'base_bdev', kind: 'str', help: 'Name of underlying, non-zoned bdev', required: true },
      { flags: '-z, --zone-capacity <blocks>', dest: 'zone_capacity', kind: 'int', help: 'Surfaced zone capacity in blocks', required: true },
      { flags: '-o, --optimal-open-zones <n>', dest: 'optimal_open_zones', kind: 'int', help: 'Number of zones required to reach optimal write speed', required: true },
    ],
    build: (a) => pick(a, ['name', 'base_bdev', 'zone_capacity', 'optimal_open_zones']),
    print: 'json',
  },
  { name: 'bdev_zone_block_delete', help: 'Delete a virtual zone namespace device', pos: [namePos('Virtual zone bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_delay_create',
    help: 'Add a delay bdev on existing bdev',
    opts: [
      { flags: '-b, --base-bdev-name <name>', dest: 'base_bdev_name', kind: 'str', help: 'Name of the existing bdev', required: true },
      { flags: '-d, --name <name>', dest: 'name', kind: 'str', help: 'Name of the delay bdev', required: true },
      { flags: '-u, --uuid <uuid>', dest: 'uuid', kind: 'str', help: 'UUID of the bdev (optional)' },
      { flags: '-r, --avg-read-latency <us>', dest: 'avg_read_latency', kind: 'int', help: 'Average latency to apply before completing read ops (in microseconds)', required: true },
      { flags: '-t, --nine-nine-read-latency <us>', dest: 'p99_read_latency', kind: 'int', help: 'latency to apply to 1 in 100 read ops (in microseconds)', required: true },
      { flags: '-w, --avg-write-latency <us>', dest: 'avg_write_latency', kind: 'int', help: 'Average latency to apply before completing write ops (in microseconds)', required: true },
      { flags: '-n, --nine-nine-write-latency <us>', dest: 'p99_write_latency', kind: 'int', help: 'latency to apply to 1 in 100 write ops (in microseconds)', required: true },
    ],
    build: (a) => pick(a, ['base_bdev_name', 'name', 'uuid', 'avg_read_latency', 'p99_read_latency', 'avg_write_latency', 'p99_write_latency']),
    print: 'json',
  },
  { name: 'bdev_delay_delete', help: 'Delete a delay bdev', pos: [namePos('delay bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_delay_update_latency',
    help: 'Update one of the latency values for a given delay bdev',
    pos: [
      { name: 'delay_bdev_name', kind: 'str', help: 'The name of the given delay bdev' },
      { name: 'latency_type', kind: 'str', help: 'Latency bucket to update', choices: ['avg_read', 'avg_write', 'p99_read', 'p99_write'] },
      { name: 'latency_us', kind: 'int', help: 'new latency value in microseconds.' },
    ],
    build: (a) => pick(a, ['delay_bdev_name', 'latency_type', 'latency_us']),
    print: 'json',
  },
  {
    name: 'bdev_error_create',
    help: 'Add bdev with error injection backend',
    pos: [{ name: 'base_name', kind: 'str', help: 'base bdev name' }],
    opts: [{ flags: '--uuid <uuid>', dest: 'uuid', kind: 'str', help: 'UUID for this bdev' }],
    build: (a) => pick(a, ['base_name', 'uuid']),
    print: 'json',
  },
  { name: 'bdev_error_delete', help: 'Delete an error bdev', pos: [namePos('error bdev name')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_error_inject_error',
    help: 'bdev inject error',
    pos: [
      namePos('the name of the error injection bdev'),
      { name: 'io_type', kind: 'str', help: 'IO type', choices: ['clear', 'read', 'write', 'unmap', 'flush', 'all'] },
      { name: 'error_type', kind: 'str', help: 'Error type', choices: ['failure', 'nvme_failure', 'pending', 'corrupt_data', 'nomem'] },
    ],
    opts: [
      { flags: '--nvme-sct <n>', dest: 'nvme_sct', kind: 'int', help: "The NVMe SCT error for 'nvme_failure' type. Default is 0." },
      { flags: '--nvme-sc <n>', dest: 'nvme_sc', kind: 'int', help: "The NVMe SC error for 'nvme_failure' type. Default is 0." },
      { flags: '-n, --num <n>', dest: 'num', kind: 'int', help: 'the number of commands you want to fail' },
      { flags: '-q, --queue-depth <n>', dest: 'queue_depth', kind: 'int', help: 'the queue depth at which to trigger the error' },
      { flags: '-o, --corrupt-offset <n>', dest: 'corrupt_offset', kind: 'int', help: 'the offset in bytes to xor with corrupt_value' },
      { flags: '-v, --corrupt-value <n>', dest: 'corrupt_value', kind: 'int', help: 'the value for xor (1-255, 0 is invalid)' },
      { flags: '--every <n>', dest: 'every', kind: 'int', help: '(vnvme) fail every Nth matching I/O; with no --num, until cleared' },
      { flags: '--lba-start <lba>', dest: 'lba_start', kind: 'int', help: '(vnvme) only I/Os touching LBAs from this one' },
      { flags: '--lba-count <n>', dest: 'lba_count', kind: 'int', help: '(vnvme) ...up to lba_start + lba_count' },
    ],
    build: (a) => pick(a, ['name', 'io_type', 'error_type', 'nvme_sct', 'nvme_sc', 'num', 'queue_depth', 'corrupt_offset', 'corrupt_value', 'every', 'lba_start', 'lba_count']),
    print: 'none',
  },
  { name: 'bdev_error_resume_pending', help: 'Resume pending IOs', pos: [namePos('the name of the error injection bdev')], build: (a) => pick(a, ['name']), print: 'none' },
  {
    name: 'bdev_get_bdevs',
    help: 'Display current blockdev list or required blockdev',
    opts: [
      { flags: '-b, --name <name>', dest: 'name', kind: 'str', help: 'Name of the Blockdev. Example: Nvme0n1' },
      { flags: '-t, --timeout-ms <ms>', dest: 'timeout', kind: 'int', help: 'Time in ms to wait for the bdev to appear (only used with the -b|--name option).' },
    ],
    build: (a) => pick(a, ['name', 'timeout']),
    print: 'dict',
  },
  {
    name: 'bdev_get_iostat',
    help: 'Display current I/O statistics of all the blockdevs or specified blockdev.',
    opts: [
      { flags: '-c, --per-channel', dest: 'per_channel', kind: 'flag', help: 'Display per channel IO stats for specified device' },
      { flags: '--reset-mode <mode>', dest: 'reset_mode', kind: 'str', help: 'Mode to reset I/O statistics after getting', choices: ['all', 'maxmin', 'error', 'none'] },
      { flags: '--names <list>', dest: 'names', kind: 'list', help: 'Bdev names to obtain I/O statistics from, comma-separated list in quotes' },
    ],
    build: (a) => pick(a, ['per_channel', 'reset_mode', 'names']),
    print: 'dict',
  },
  {
    name: 'bdev_reset_iostat',
    help: 'Reset I/O statistics of all the blockdevs or specified blockdev.',
    opts: [
      { flags: '-b, --name <name>', dest: 'name', kind: 'str', help: 'Name of the Blockdev. Example: Nvme0n1' },
      { flags: '-m, --mode <mode>', dest: 'mode', kind: 'str', help: 'Mode to reset I/O statistics', choices: ['all', 'maxmin', 'error', 'none'] },
    ],
    build: (a) => pick(a, ['name', 'mode']),
    print: 'none',
  },

  // --- nvmf -----------------------------------------------------------------------------------
  {
    name: 'nvmf_create_transport',
    help: 'Create NVMf transport',
    opts: [
      { flags: '-t, --trtype <trtype>', dest: 'trtype', kind: 'str', help: 'Transport type (ex. RDMA)', required: true },
      tgtName('-g'),
      { flags: '-q, --max-queue-depth <n>', dest: 'max_queue_depth', kind: 'int', help: 'Max number of outstanding I/O per queue' },
      { flags: '-m, --max-io-qpairs-per-ctrlr <n>', dest: 'max_io_qpairs_per_ctrlr', kind: 'int', help: 'Max number of IO qpairs per controller' },
      { flags: '-c, --in-capsule-data-size <n>', dest: 'in_capsule_data_size', kind: 'int', help: 'Max number of in-capsule data size' },
      { flags: '-i, --max-io-size <n>', dest: 'max_io_size', kind: 'int', help: 'Max I/O size (bytes)' },
      { flags: '-u, --io-unit-size <n>', dest: 'io_unit_size', kind: 'int', help: 'I/O unit size (bytes). Deprecated.' },
      { flags: '-a, --max-aq-depth <n>', dest: 'max_aq_depth', kind: 'int', help: 'Max number of admin cmds per AQ' },
      { flags: '-n, --num-shared-buffers <n>', dest: 'num_shared_buffers', kind: 'int', help: 'Number of pooled data buffers available to the transport. Deprecated.' },
      { flags: '-b, --buf-cache-size <n>', dest: 'buf_cache_size', kind: 'int', help: 'The number of shared buffers to reserve for each poll group. Deprecated.' },
      { flags: '--iobuf-small-cache-size <n>', dest: 'iobuf_small_cache_size', kind: 'int', help: 'The number of shared buffers from a small iobuf pool to reserve for each poll group' },
      { flags: '--iobuf-large-cache-size <n>', dest: 'iobuf_large_cache_size', kind: 'int', help: 'Number of shared buffers from the large iobuf pool to reserve for each poll group' },
      { flags: '-z, --zcopy', dest: 'zcopy', kind: 'flag', help: 'Use zero-copy operations if the underlying bdev supports them' },
      { flags: '-d, --num-cqe <n>', dest: 'num_cqe', kind: 'int', help: 'Number of CQ entries, only used when no_srq=true (RDMA only)' },
      { flags: '-s, --max-srq-depth <n>', dest: 'max_srq_depth', kind: 'int', help: 'Number of elements in the per-thread shared receive queue (RDMA only)' },
      { flags: '-r, --no-srq', dest: 'no_srq', kind: 'flag', help: 'Disable shared receive queue even for devices that support it (RDMA only)' },
      { flags: '-o, --c2h-success', dest: 'c2h_success', kind: 'noflag', help: 'Disable C2H success optimization (TCP only)' },
      { flags: '-f, --dif-insert-or-strip', dest: 'dif_insert_or_strip', kind: 'flag', help: 'Enable DIF insert for write I/O and DIF strip for read I/O (TCP only)' },
      { flags: '-y, --sock-priority <n>', dest: 'sock_priority', kind: 'int', help: 'Socket priority of connections owned by this transport (TCP only)' },
      { flags: '-l, --acceptor-backlog <n>', dest: 'acceptor_backlog', kind: 'int', help: 'Number of pending connections allowed in the backlog (RDMA only)' },
      { flags: '-x, --abort-timeout-sec <n>', dest: 'abort_timeout_sec', kind: 'int', help: 'Abort execution timeout value, in seconds' },
      { flags: '-w, --no-wr-batching', dest: 'no_wr_batching', kind: 'flag', help: 'Disable work requests batching (RDMA only)' },
      { flags: '-e, --control-msg-num <n>', dest: 'control_msg_num', kind: 'int', help: 'Number of control messages per poll group (TCP only)' },
      { flags: '-M, --disable-mappable-bar0', dest: 'disable_mappable_bar0', kind: 'flag', help: 'Disable client mmap() of BAR0 (VFIO-USER only)' },
      { flags: '-I, --disable-adaptive-irq', dest: 'disable_adaptive_irq', kind: 'flag', help: 'Disable adaptive interrupt feature (VFIO-USER only)' },
      { flags: '-S, --disable-shadow-doorbells', dest: 'disable_shadow_doorbells', kind: 'flag', help: 'Disable shadow doorbell support (VFIO-USER only)' },
      { flags: '--acceptor-poll-rate <us>', dest: 'acceptor_poll_rate', kind: 'int', help: 'Polling interval of the acceptor for incoming connections (microseconds)' },
      { flags: '--ack-timeout <ms>', dest: 'ack_timeout', kind: 'int', help: 'ACK timeout in milliseconds' },
      { flags: '--data-wr-pool-size <n>', dest: 'data_wr_pool_size', kind: 'int', help: 'RDMA data WR pool size (RDMA only)' },
      { flags: '--disable-command-passthru', dest: 'disable_command_passthru', kind: 'flag', help: 'Disallow forwarding unrecognized I/O opcodes to the underlying bdev' },
      { flags: '--kas <n>', dest: 'kas', kind: 'int', help: 'KATO (Keep Alive Timeout) granularity in units of 100 milliseconds' },
      { flags: '--min-kato <ms>', dest: 'min_kato', kind: 'int', help: 'Minimum Keep Alive Timeout value in milliseconds' },
      { flags: '--masked-oncs <list>', dest: 'masked_oncs', kind: 'list', help: `Comma-separated list of ONCS features to mask (disable). Available options: all, ${ONCS.join(', ')}` },
      { flags: '--masked-fuses <list>', dest: 'masked_fuses', kind: 'list', help: `Comma-separated list of FUSES features to mask (disable). Available options: all, ${FUSES.join(', ')}` },
    ],
    check: (a) => {
      for (const [key, names] of [
        ['masked_oncs', ONCS],
        ['masked_fuses', FUSES],
      ] as const) {
        const bad = ((a[key] as string[] | undefined) ?? []).filter((x) => x !== 'all' && !names.includes(x));
        if (bad.length) return `Invalid ${key === 'masked_oncs' ? 'oncs' : 'fuses'}: '${bad.join(', ')}'. Available options: all, ${names.join(', ')}.`;
      }
      return undefined;
    },
    build: (a) => {
      // strip_globals(vars(args)) then apply_defaults(no_srq=False, c2h_success=True): the two
      // defaults come first, the rest in definition order.
      const order = [
        'no_srq',
        'c2h_success',
        'trtype',
        'tgt_name',
        'max_queue_depth',
        'max_io_qpairs_per_ctrlr',
        'in_capsule_data_size',
        'max_io_size',
        'io_unit_size',
        'max_aq_depth',
        'num_shared_buffers',
        'buf_cache_size',
        'iobuf_small_cache_size',
        'iobuf_large_cache_size',
        'zcopy',
        'num_cqe',
        'max_srq_depth',
        'dif_insert_or_strip',
        'sock_priority',
        'acceptor_backlog',
        'abort_timeout_sec',
        'no_wr_batching',
        'control_msg_num',
        'disable_mappable_bar0',
        'disable_adaptive_irq',
        'disable_shadow_doorbells',
        'acceptor_poll_rate',
        'ack_timeout',
        'data_wr_pool_size',
        'disable_command_passthru',
        'kas',
        'min_kato',
        'masked_oncs',
        'masked_fuses',
      ];
      const p = pick(a, order);
      if (a.masked_oncs?.length) p.masked_oncs = a.masked_oncs.includes('all') ? ONCS : a.masked_oncs;
      if (a.masked_fuses?.length) p.masked_fuses = a.masked_fuses.includes('all') ? FUSES : a.masked_fuses;
      return p;
    },
    print: 'none',
  },
  {
    name: 'nvmf_get_transports',
    help: 'Display nvmf transports or required transport',
    opts: [{ flags: '--trtype <trtype>', dest: 'trtype', kind: 'str', help: 'Transport type' }, tgtName('-t')],
    build: (a) => pick(a, ['trtype', 'tgt_name']),
    print: 'dict',
  },
  {
    name: 'nvmf_get_subsystems',
    help: 'Display nvmf subsystems or required subsystem',
    pos: [{ name: 'nqn', kind: 'str', help: 'Subsystem NQN', optional: true }],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'tgt_name']),
    print: 'dict',
  },
  {
    name: 'nvmf_create_subsystem',
    help: 'Create an NVMe-oF subsystem',
    pos: [nqnPos],
    opts: [
      tgtName('-t'),
      { flags: '-s, --serial-number <sn>', dest: 'serial_number', kind: 'str', help: 'Serial number of the virtual NVMe controller' },
      { flags: '-d, --model-number <mn>', dest: 'model_number', kind: 'str', help: 'Model number of the virtual NVMe controller' },
      { flags: '-a, --allow-any-host', dest: 'allow_any_host', kind: 'flag', help: 'Allow any host to connect (default: enforce allowed host NQN list)' },
      { flags: '-m, --max-namespaces <n>', dest: 'max_namespaces', kind: 'int', help: 'Maximum number of namespaces that can be attached to the subsystem' },
      { flags: '-r, --ana-reporting', dest: 'ana_reporting', kind: 'flag', help: 'Enable ANA reporting feature' },
      { flags: '-i, --min-cntlid <n>', dest: 'min_cntlid', kind: 'int', help: 'Minimum controller ID' },
      { flags: '-I, --max-cntlid <n>', dest: 'max_cntlid', kind: 'int', help: 'Maximum controller ID' },
      { flags: '--dmrsl <n>', dest: 'dmrsl', kind: 'int', help: 'Dataset Management Range Size Limit in logical block units' },
      { flags: '--wzsl <n>', dest: 'wzsl', kind: 'int', help: 'Write Zeroes Size Limit as a power of two (2^wzsl) in units of minimum memory page size' },
      { flags: '-p, --passthrough', dest: 'passthrough', kind: 'flag', help: 'Use NVMe passthrough for all I/O commands and namespace-directed admin commands' },
      { flags: '-n, --enable-nssr', dest: 'enable_nssr', kind: 'flag', help: 'Enable NSSR (NVMe subsystem reset)' },
      { flags: '--admin-label <label>', dest: 'admin_label', kind: 'str', help: 'Admin label for extended discovery log page entry (4-256 ASCII characters)' },
    ],
    build: (a) =>
      pick(a, ['nqn', 'tgt_name', 'serial_number', 'model_number', 'allow_any_host', 'max_namespaces', 'ana_reporting', 'min_cntlid', 'max_cntlid', 'dmrsl', 'wzsl', 'passthrough', 'enable_nssr', 'admin_label']),
    print: 'none',
  },
  {
    name: 'nvmf_delete_subsystem',
    help: 'Delete a nvmf subsystem',
    pos: [nqnPos],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'tgt_name']),
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_add_listener',
    help: 'Add a listener to an NVMe-oF subsystem',
    pos: [{ name: 'nqn', kind: 'str', help: "Subsystem NQN ('discovery' can be used as shortcut for discovery NQN)" }],
    opts: [
      ...listenerOpts,
      { flags: '-k, --secure-channel', dest: 'secure_channel', kind: 'flag', help: 'Require all connections to immediately establish a secure channel' },
      { flags: '-n, --ana-state <state>', dest: 'ana_state', kind: 'str', help: 'ANA state to set', choices: ['optimized', 'non_optimized', 'inaccessible'] },
      { flags: '-S, --sock-impl <impl>', dest: 'sock_impl', kind: 'str', help: 'Socket implementation to use for the listener' },
      { flags: '--numa-id <n>', dest: 'numa_id', kind: 'int', help: 'Required NUMA node ID for all namespaces, -1 for any. Relevant only for VFIOUSER.' },
    ],
    build: (a) => {
      const p = groupAs(pick(a, ['tgt_name', 'nqn', 'trtype', 'traddr', 'adrfam', 'trsvcid', 'secure_channel', 'ana_state', 'sock_impl', 'numa_id']), 'listen_address', [
        'trtype',
        'traddr',
        'trsvcid',
        'adrfam',
      ]);
      if (p.nqn === 'discovery') p.nqn = DISCOVERY;
      return p;
    },
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_remove_listener',
    help: 'Remove a listener from an NVMe-oF subsystem',
    pos: [{ name: 'nqn', kind: 'str', help: "Subsystem NQN ('discovery' can be used as shortcut for discovery NQN)" }],
    opts: listenerOpts,
    build: (a) => {
      const p = groupAs(pick(a, ['nqn', 'trtype', 'traddr', 'tgt_name', 'adrfam', 'trsvcid']), 'listen_address', ['trtype', 'traddr', 'trsvcid', 'adrfam']);
      if (p.nqn === 'discovery') p.nqn = DISCOVERY;
      return p;
    },
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_add_ns',
    help: 'Add a namespace to an NVMe-oF subsystem',
    pos: [nqnPos, { name: 'bdev_name', kind: 'str', help: 'Name of the bdev to expose as a namespace' }],
    opts: [
      tgtName('-t'),
      { flags: '-p, --ptpl-file <file>', dest: 'ptpl_file', kind: 'str', help: 'File path to save/restore persistent reservation information' },
      { flags: '-n, --nsid <nsid>', dest: 'nsid', kind: 'int', help: 'Namespace ID between 1 and 4294967294' },
      { flags: '-g, --nguid <hex>', dest: 'nguid', kind: 'str', help: '16-byte namespace globally unique identifier in hexadecimal' },
      { flags: '-e, --eui64 <hex>', dest: 'eui64', kind: 'str', help: '8-byte namespace EUI-64 in hexadecimal' },
      { flags: '-u, --uuid <uuid>', dest: 'uuid', kind: 'str', help: 'RFC 4122 UUID (e.g. "ceccf520-691e-4b46-9546-34af789907c5")' },
      { flags: '-a, --anagrpid <n>', dest: 'anagrpid', kind: 'int', help: 'ANA group ID' },
      { flags: '-i, --no-auto-visible', dest: 'no_auto_visible', kind: 'flag', help: 'Do not auto make namespace visible to controllers' },
      { flags: '-N, --hide-metadata', dest: 'hide_metadata', kind: 'flag', help: '[Deprecated] Enable hide_metadata option to the bdev' },
    ],
    build: (a) =>
      groupAs(pick(a, ['tgt_name', 'nqn', 'bdev_name', 'ptpl_file', 'nsid', 'nguid', 'eui64', 'uuid', 'anagrpid', 'no_auto_visible', 'hide_metadata']), 'namespace', [
        'bdev_name',
        'ptpl_file',
        'nsid',
        'nguid',
        'eui64',
        'uuid',
        'anagrpid',
        'no_auto_visible',
        'hide_metadata',
      ]),
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_remove_ns',
    help: 'Remove a namespace to an NVMe-oF subsystem',
    pos: [nqnPos, { name: 'nsid', kind: 'int', help: 'Namespace ID' }],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'nsid', 'tgt_name']),
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_add_host',
    help: 'Add a host to an NVMe-oF subsystem',
    pos: [nqnPos, { name: 'host', kind: 'str', help: 'Host NQN to allow' }],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'host', 'tgt_name']),
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_remove_host',
    help: 'Remove a host from an NVMe-oF subsystem',
    pos: [nqnPos, { name: 'host', kind: 'str', help: 'Host NQN to remove' }],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'host', 'tgt_name']),
    print: 'none',
  },
  {
    name: 'nvmf_subsystem_get_controllers',
    help: 'Display controllers of an NVMe-oF subsystem.',
    pos: [nqnPos],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'tgt_name']),
    print: 'dict',
  },
  {
    name: 'nvmf_subsystem_get_listeners',
    help: 'Display listeners of an NVMe-oF subsystem.',
    pos: [nqnPos],
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['nqn', 'tgt_name']),
    print: 'dict',
  },
  {
    name: 'nvmf_get_stats',
    help: 'Display current statistics for NVMf subsystem',
    opts: [tgtName('-t')],
    build: (a) => pick(a, ['tgt_name']),
    print: 'dict',
  },
  // --- vnvme's own (no rpc.py counterpart): the capacity pool for Namespace Management -------
  {
    name: 'vnvme_subsystem_set_ns_pool',
    help: "[vnvme] Give a subsystem capacity for namespaces the host creates (Namespace Management); SPDK's nvmf target has no such method",
    pos: [nqnPos, { name: 'size', kind: 'float', help: 'Pool size in MiB (float >= 0)' }],
    opts: [{ flags: '-b, --block-sizes <list>', dest: 'block_sizes', kind: 'list', help: 'LBA formats offered, as comma-separated block sizes (default 512,4096)' }],
    build: (a) => ({
      nqn: a.nqn,
      capacity: Math.floor(a.size * 1024 * 1024),
      ...(a.block_sizes ? { block_sizes: (a.block_sizes as string[]).map(Number) } : {}),
    }),
    print: 'none',
  },
  {
    name: 'vnvme_subsystem_remove_ns_pool',
    help: '[vnvme] Stop offering Namespace Management on a subsystem (its pool must be empty)',
    pos: [nqnPos],
    build: (a) => pick(a, ['nqn']),
    print: 'none',
  },
  {
    name: 'vnvme_subsystem_get_ns_pool',
    help: "[vnvme] Show a subsystem's namespace pool: capacity, allocated, block sizes, the namespaces created from it",
    pos: [nqnPos],
    build: (a) => pick(a, ['nqn']),
    print: 'dict',
  },
];
