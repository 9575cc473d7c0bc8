'use strict';
// Errors are thrown as orq's classes by kind (docs/errors.md): SQLite's
// result code, and the token for orq's own kinds, never the text.

const test = require('node:test');
const assert = require('node:assert/strict');
const Database = require('better-sqlite3');
const orq = require('..');
const { Queue } = orq;
const { tempDb, tempQueue } = require('../test-support/helpers');

test('bad input is an InvalidArgument', (t) => {
  const q = tempQueue(t);
  assert.throws(() => q.enqueue('bad queue name!', {}), (err) => {
    assert.ok(err instanceof orq.InvalidArgument && err instanceof orq.OrqError && err instanceof Error);
    assert.equal(err.code, 'SQLITE_ERROR');
    assert.match(err.message, /^queue_enqueue: invalid queue name/);
    assert.equal(err.cause.name, 'SqliteError');
    return true;
  });
});

test('an unknown job is NotFound', (t) => {
  const q = tempQueue(t);
  assert.throws(() => q.value('SELECT queue_cancel(?)', 99), orq.NotFound);
  assert.throws(() => q.enqueue('q', {}, { depends_on: [99] }), {
    name: 'NotFound',
    message: 'queue_enqueue: [not_found] depends_on: no job with id 99',
  });
});

test('a key held by another live job is a Conflict', (t) => {
  const q = tempQueue(t);
  q.enqueue('q', {}, { key: 'k' });
  q.value('SELECT queue_cancel(1)');
  q.enqueue('q', {}, { key: 'k' });
  assert.throws(() => q.value('SELECT queue_retry(1)'), { name: 'Conflict', code: 'SQLITE_CONSTRAINT_UNIQUE' });
  assert.equal(q.job(1).state, 'cancelled');
});

test('a held write lock is DatabaseBusy', (t) => {
  const file = tempDb(t);
  const q = new Queue(file, { busyTimeout: 50 });
  t.after(() => q.close());
  q.enqueue('q', {});
  const holder = new Database(file);
  t.after(() => holder.close());
  holder.exec('BEGIN IMMEDIATE');
  assert.throws(() => q.enqueue('q', {}), { name: 'DatabaseBusy', message: /^queue_enqueue: database is locked/ });
  holder.exec('ROLLBACK');
});

test('a full disk is DatabaseFull', (t) => {
  const q = tempQueue(t);
  q.enqueue('q', {});
  q.db.pragma(`max_page_count = ${q.db.pragma('page_count', { simple: true })}`);
  assert.throws(() => q.enqueue('q', 'x'.repeat(100000)), {
    name: 'DatabaseFull',
    message: /^queue_enqueue: database or disk is full/,
  });
  assert.deepEqual(q.stats().map((s) => s.ready), [1]);
});

test('a read-only database is ReadOnly', (t) => {
  const file = tempDb(t);
  new Queue(file).close();
  const q = new Queue(new Database(file, { readonly: true }));
  t.after(() => q.db.close());
  assert.throws(() => q.enqueue('q', {}), { name: 'ReadOnly', message: /attempt to write a readonly database/ });
  assert.throws(() => q.claimOne('q'), orq.ReadOnly);
});

test('a damaged schema version is Corrupt; one from a newer orq a SchemaMismatch', (t) => {
  const q = tempQueue(t);
  q.enqueue('q', {});
  q.db.exec("UPDATE orq_meta SET value = -1 WHERE key = 'schema_version'");
  assert.throws(() => q.enqueue('q', {}), { name: 'Corrupt', code: 'SQLITE_CORRUPT' });
  assert.throws(() => q.stats(), orq.Corrupt);
  q.db.exec("UPDATE orq_meta SET value = 99 WHERE key = 'schema_version'");
  assert.throws(() => q.enqueue('q', {}), { name: 'SchemaMismatch', message: /^queue_enqueue: \[schema\] / });
});

test('the classes are named exports of the ES module too', async () => {
  const esm = await import('orq');
  assert.equal(typeof esm.NotFound, 'function');
  assert.equal(esm.NotFound, orq.NotFound);
  assert.equal(esm.OrqError, orq.OrqError);
});
