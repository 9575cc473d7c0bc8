'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PACKAGE_DIR = path.join(__dirname, '..');

function runModule(source) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: PACKAGE_DIR, encoding: 'utf8' });
}

test("import from 'orq' gives named and default exports", () => {
  // The package imports itself by name (package.json "exports"), as a dependent would.
  const run = runModule(`
    import orq, { Queue, Job, Worker, load, getLoadablePath } from 'orq';
    const q = new Queue(':memory:');
    const id = q.enqueue('esm', { hello: 'world' });
    const job = q.claimOne('esm');
    console.log(JSON.stringify({
      same: orq.Queue === Queue && orq.load === load && orq.getLoadablePath === getLoadablePath,
      job: job instanceof Job, worker: typeof Worker, id, payload: job.payload, done: job.complete('ok'),
    }));
  `);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), {
    same: true, job: true, worker: 'function', id: 1, payload: { hello: 'world' }, done: true,
  });
});

test('index.mjs re-exports the CommonJS module itself', async () => {
  const esm = await import(path.join(PACKAGE_DIR, 'index.mjs'));
  const cjs = require('..');
  assert.equal(esm.Queue, cjs.Queue);
  assert.equal(esm.default, cjs);
  assert.equal(cjs.default, cjs);
});
