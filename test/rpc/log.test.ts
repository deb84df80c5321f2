// Structured logs: SPDK's levels, -L component flags, text and JSON lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger, parseLogLevel } from '../../target/log.js';

test('levels and -L flags select lines; JSON lines carry the fields', () => {
  const lines: string[] = [];
  const log = Logger.create({ level: 'notice', flags: ['bdev'], sink: { write: (l) => lines.push(l) } }, 'app');
  log.debug('hidden');
  log.info('hidden too');
  log.notice('shown', { a: 1 });
  log.child('bdev').debug('bdev debug shown');
  log.child('nvmf').debug('nvmf debug hidden');
  log.error('bad');
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^\[\d{4}-\d\d-\d\dT[^\]]+\] app: NOTICE: shown \{"a":1\}\n$/);
  assert.match(lines[1], /bdev: DEBUG: bdev debug shown/);
  assert.match(lines[2], /app: ERROR: bad/);

  const json: string[] = [];
  const jl = Logger.create({ level: 'debug', json: true, sink: { write: (l) => json.push(l) } }, 'rpc');
  jl.warn('w', { method: 'x' });
  const o = JSON.parse(json[0]);
  assert.equal(o.level, 'warning');
  assert.equal(o.component, 'rpc');
  assert.equal(o.method, 'x');
  assert.equal(parseLogLevel('WARN'), 'warning');
  assert.equal(parseLogLevel('DEBUG'), 'debug');
  assert.throws(() => parseLogLevel('loud'), /unknown log level/);
});
