'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const Database = require('better-sqlite3');
const orq = require('..');
const { tempDb, tempQueue } = require('../test-support/helpers');

test('getLoadablePath names an existing file', () => {
  const file = orq.getLoadablePath();
  assert.ok(fs.statSync(file).isFile(), file);
});

test('getLoadablePath prefers ORQ_LOADABLE_PATH', (t) => {
  const saved = process.env.ORQ_LOADABLE_PATH;
  t.after(() => (saved === undefined ? delete process.env.ORQ_LOADABLE_PATH : (process.env.ORQ_LOADABLE_PATH = saved)));
  process.env.ORQ_LOADABLE_PATH = '/somewhere/liborq.so';
  assert.equal(orq.getLoadablePath(), '/somewhere/liborq.so');
});

test('load() registers the queue functions on a better-sqlite3 database', (t) => {
  const db = new Database(tempDb(t));
  t.after(() => db.close());
  assert.equal(orq.load(db), db);
  assert.equal(db.prepare("SELECT queue_enqueue('q', '{\"a\":1}')").pluck().get(), 1);
  const debug = JSON.parse(db.prepare('SELECT orq_debug()').pluck().get());
  assert.match(debug.version, /^v\d+\.\d+\.\d+/);
  assert.equal(debug.journal_mode, 'wal');
});

test('a Queue it opened has the recommended PRAGMAs', (t) => {
  const q = tempQueue(t, { busyTimeout: 1234 });
  const debug = JSON.parse(q.value('SELECT orq_debug()'));
  assert.equal(debug.journal_mode, 'wal');
  assert.equal(debug.synchronous, 1);
  assert.equal(debug.busy_timeout_ms, 1234);
  assert.equal(debug.temp_store, 2);
  const plain = new Database(':memory:');
  t.after(() => plain.close());
  assert.equal(debug.cache_size, plain.pragma('cache_size', { simple: true }), 'the default cache');
});

test('a Queue on your own Database loads orq once and leaves the database open on close()', (t) => {
  const db = orq.load(new Database(tempDb(t)));
  t.after(() => db.close());
  const q = new orq.Queue(db, { name: 'mine' });
  assert.equal(q.name, 'mine');
  assert.equal(q.enqueue('q', 1), 1);
  q.close();
  assert.ok(db.open);
  assert.equal(db.prepare('SELECT count(*) FROM queue_jobs').pluck().get(), 1);
});

test('the default worker name is host-pid', (t) => {
  const q = tempQueue(t);
  assert.equal(q.name, `${require('node:os').hostname()}-${process.pid}`);
});

test('an application without better-sqlite3 is told what to install', (t) => {
  // An application whose node_modules holds orq and no better-sqlite3.
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'orq-app-'));
  t.after(() => fs.rmSync(app, { recursive: true, force: true }));
  const installed = path.join(app, 'node_modules', 'orq');
  for (const entry of ['package.json', 'index.js', 'src']) {
    fs.cpSync(path.join(__dirname, '..', entry), path.join(installed, entry), { recursive: true });
  }
  const script = "const { Queue } = require('orq'); new Queue('app.db');";
  const run = spawnSync(process.execPath, ['-e', script], { cwd: app, encoding: 'utf8' });
  assert.equal(run.status, 1);
  assert.match(
    run.stderr,
    /Error: orq: better-sqlite3 is not installed\. .* \(a peer dependency, .*\): npm install better-sqlite3@12\n/
  );
});
