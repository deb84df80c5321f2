#!/usr/bin/env node
// `npm run build:asan`: builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into
// build-asan/vnvme.node. It compiles the sources listed in binding.gyp directly with g++ into
// build-asan/, so the normal build in build/ is never touched (tests running meanwhile keep
// working). Objects are rebuilt only when a source or header is newer. `npm test -- --asan`
// then runs the tests against it (scripts/test.mjs sets VNVME_NATIVE and LD_PRELOAD).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';

const require = createRequire(import.meta.url);
const out = 'build-asan';
const gyp = JSON.parse(readFileSync('binding.gyp', 'utf8').replace(/^\s*#.*$/gm, ''));
const target = gyp.targets.find((t) => t.target_name === 'vnvme');
const sources = target.sources;
const nodeInclude = [join(process.execPath, '..', '..', 'include', 'node'), '/usr/include/node'].find((d) => existsSync(join(d, 'node_api.h')));
if (!nodeInclude) {
  console.error('build:asan: node headers (node_api.h) not found next to node or in /usr/include/node');
  process.exit(1);
}
const cxx = process.env.CXX ?? 'g++';
const flags = [
  '-std=c++17', '-fPIC', '-pthread', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter', '-fexceptions',
  '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer', '-g', '-O1',
  ...target.defines.map((d) => `-D${d}`), '-DBUILDING_NODE_EXTENSION', '-DNODE_GYP_MODULE_NAME=vnvme',
  `-I${nodeInclude}`, `-I${require('node-addon-api').include_dir}`,
];

function run(argv) {
  return new Promise((resolve, reject) => {
    const p = spawn(cxx, argv, { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cxx} ${argv.at(-1)} failed (${code})`))));
    p.on('error', reject);
  });
}

mkdirSync(out, { recursive: true });
const headersNewest = Math.max(...readdirSync('native').filter((f) => f.endsWith('.h')).map((f) => statSync(join('native', f)).mtimeMs));
const objects = sources.map((s) => join(out, basename(s).replace(/\.cc$/, '.o')));
const stale = sources.filter((s, i) => !existsSync(objects[i]) || Math.max(statSync(s).mtimeMs, headersNewest) > statSync(objects[i]).mtimeMs);
const queue = [...stale];
const workers = Array.from({ length: Math.min(availableParallelism(), 4) }, async () => {
  for (let s; (s = queue.shift()); ) {
    console.log(`  CXX(asan) ${s}`);
    await run([...flags, '-c', '-o', objects[sources.indexOf(s)], s]);
  }
});
try {
  await Promise.all(workers);
  await run(['-shared', '-fsanitize=address,undefined', '-pthread', '-o', join(out, 'vnvme.node'), ...objects, ...(target.libraries ?? [])]);
} catch (err) {
  console.error(`build:asan: ${err.message}`);
  process.exit(1);
}
console.log(`build:asan: ${join(out, 'vnvme.node')}`);
