'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Queue, Job } = require('..');
const { tempDb, tempQueue, sleep, setClock } = require('../test-support/helpers');

const T = 1800000000;

test('enqueue, claimOne, complete: the result is visible in job()', (t) => {
  const q = tempQueue(t);
  const id = q.enqueue('email', { to: 'a@b.c' }, { priority: 3, max_attempts: 2 });
  assert.equal(typeof id, 'number');
  const job = q.claimOne('email');
  assert.ok(job instanceof Job);
  assert.equal(job.id, id);
  assert.equal(job.queue, 'email');
  assert.deepEqual(job.payload, { to: 'a@b.c' });
  assert.equal(job.attempt, 1);
  assert.equal(job.maxAttempts, 2);
  assert.equal(job.priority, 3);
  assert.equal(job.lease, 30);
  assert.equal(job.timeout, null);
  assert.equal(typeof job.token, 'number');
  assert.ok(job.leaseUntil > Date.now() / 1000);
  assert.equal(job.finished, false);
  assert.equal(q.job(id).state, 'running');

  assert.equal(job.complete({ sent: true }), true);
  assert.equal(job.finished, true);
  const row = q.job(id);
  assert.equal(row.state, 'done');
  assert.deepEqual(row.result, { sent: true });
  assert.deepEqual(row.payload, { to: 'a@b.c' });
  assert.equal(row.attempts, 1);
  assert.equal(q.claimOne('email'), null);
  assert.equal(q.job(9999), null);
});

test('payloads: undefined is null, strings and numbers stay JSON values', (t) => {
  const q = tempQueue(t);
  const ids = [q.enqueue('p', undefined), q.enqueue('p', 'text'), q.enqueue('p', 42), q.enqueue('p', [1, { a: null }])];
  assert.deepEqual(ids.map((id) => q.job(id).payload), [null, 'text', 42, [1, { a: null }]]);
});

test('claimOne takes a queue list or every queue; claimMany several', (t) => {
  const q = tempQueue(t);
  q.enqueue('a', 1);
  q.enqueue('b', 2);
  q.enqueue('c', 3, { priority: 9 });
  assert.equal(q.claimOne(['a', 'b']).queue, 'a');
  assert.equal(q.claimOne().queue, 'c'); // null/undefined: every queue
  const rest = q.claimMany(null, 10, { lease: 5 });
  assert.deepEqual(rest.map((j) => [j.queue, j.lease]), [['b', 5]]);
  assert.deepEqual(q.claimMany('a', 10), []);
});

test('completeMany completes claimed jobs in one statement, with results by position', (t) => {
  const q = tempQueue(t);
  q.enqueueMany('bulk', [0, 1, 2, 3]);
  const jobs = q.claimMany('bulk', 4);
  assert.equal(q.completeMany(jobs.slice(0, 3), [{ n: 0 }, undefined, 'two']), 3);
  assert.ok(jobs.slice(0, 3).every((j) => j.finished));
  assert.equal(q.completeMany([[jobs[3].id, jobs[3].token, 3], [jobs[0].id, jobs[0].token]]), 1);
  assert.deepEqual(jobs.map((j) => q.job(j.id).result), [{ n: 0 }, null, 'two', 3]);
  assert.deepEqual(jobs.map((j) => q.job(j.id).state), ['done', 'done', 'done', 'done']);
});

test('idempotency key: the same key returns the same job', (t) => {
  const q = tempQueue(t);
  const a = q.enqueue('mail', { n: 1 }, { key: 'welcome' });
  assert.equal(q.enqueue('mail', { n: 2 }, { key: 'welcome' }), a);
});

test('debounce: enqueueing again before the job starts replaces its payload', (t) => {
  const q = tempQueue(t);
  const a = q.enqueue('reindex', { v: 1 }, { key: 'doc-1', debounce: 30 });
  assert.equal(q.enqueue('reindex', { v: 2 }, { key: 'doc-1', debounce: 30 }), a);
  assert.deepEqual(q.job(a).payload, { v: 2 });
});

test("a group's limit holds back its jobs only", (t) => {
  const q = tempQueue(t);
  q.db.prepare(`SELECT queue_configure('api', '{"group_max_running": 1}')`).get();
  q.enqueueMany('api', [1, 2], { group: 'customer:42' });
  q.enqueue('api', 3, { group: 'customer:7' });
  assert.deepEqual(q.claimMany('api', 10).map((job) => job.payload).sort(), [1, 3]);
  assert.deepEqual(q.claimMany('api', 10), [], 'customer:42 runs one at a time');
  assert.throws(() => q.enqueue('api', 4, { group: 42 }), /queue_enqueue: group must be a string, got 42/);
});

test('enqueueMany enqueues in order and in one transaction', (t) => {
  const q = tempQueue(t);
  const ids = q.enqueueMany('bulk', [{ n: 1 }, { n: 2 }, { n: 3 }], { priority: 1 });
  assert.deepEqual(ids, [1, 2, 3]);
  assert.deepEqual(ids.map((id) => q.job(id).priority), [1, 1, 1]);
  assert.equal(q.db.inTransaction, false);
  assert.deepEqual(q.enqueueMany('other', ['x', undefined, 1.5]).map((id) => q.job(id).payload), ['x', null, 1.5]);
  assert.throws(() => q.enqueueMany('bulk', [1], { key: 'k' }), /queue_enqueue_many: option 'key' names one job/);
});

test('enqueueMany: a bad payload in the middle leaves no jobs', (t) => {
  const q = tempQueue(t);
  const circular = {};
  circular.self = circular;
  assert.throws(() => q.enqueueMany('bulk', [{ n: 1 }, circular, { n: 3 }]), TypeError);
  assert.throws(() => q.enqueueMany('bulk', [{ n: 1 }, 2n, { n: 3 }]), TypeError);
  assert.equal(q.value('SELECT count(*) FROM queue_jobs'), 0);
  assert.deepEqual(q.stats(), []);
  assert.equal(q.db.inTransaction, false);
});

test('transaction(): your insert and the job commit together', (t) => {
  const q = tempQueue(t);
  q.db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, job INTEGER)');
  const job = q.transaction(() => {
    const id = q.enqueue('ship', { order: 1 });
    q.db.prepare('INSERT INTO orders (job) VALUES (?)').run(id);
    return id;
  });
  assert.equal(job, 1);
  assert.equal(q.value('SELECT j.state FROM orders AS o JOIN queue_jobs AS j ON j.id = o.job'), 'ready');
});

test('transaction(): a throw rolls back your insert and the job', (t) => {
  const q = tempQueue(t);
  q.db.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, job INTEGER)');
  assert.throws(
    () =>
      q.transaction((queue) => {
        const id = queue.enqueue('ship', { order: 1 });
        q.db.prepare('INSERT INTO orders (job) VALUES (?)').run(id);
        throw new Error('payment declined');
      }),
    /payment declined/
  );
  assert.equal(q.value('SELECT count(*) FROM orders'), 0);
  assert.equal(q.value('SELECT count(*) FROM queue_jobs'), 0);
  assert.equal(q.db.inTransaction, false);
});

test('claim(): a returned value completes the job with it as result', async (t) => {
  const q = tempQueue(t);
  const id = q.enqueue('work', { x: 2 });
  const outcome = await q.claim('work', async (job) => {
    await sleep(5);
    return { y: job.payload.x * 2 };
  });
  assert.equal(outcome.ok, true);
  assert.deepEqual(outcome.result, { y: 4 });
  assert.equal(outcome.job.id, id);
  assert.equal(q.job(id).state, 'done');
  assert.deepEqual(q.job(id).result, { y: 4 });
  assert.equal(await q.claim('work', () => assert.fail('no job should be claimed')), null);
});

test('claim(): a throw fails the job with its message; it retries, then dies', async (t) => {
  const q = tempQueue(t);
  const retried = q.enqueue('work', {});
  const outcome = await q.claim('work', () => {
    throw new TypeError('boom');
  });
  assert.equal(outcome.ok, false);
  assert.equal(outcome.error, 'TypeError: boom');
  let row = q.job(retried);
  assert.equal(row.state, 'ready');
  assert.equal(row.error, 'TypeError: boom');
  assert.equal(row.attempts, 1);

  const last = q.enqueue('once', {}, { max_attempts: 1 });
  const dead = await q.claim('once', async () => {
    throw new Error('no more');
  });
  assert.equal(dead.ok, false);
  row = q.job(last);
  assert.equal(row.state, 'dead');
  assert.equal(row.error, 'Error: no more');
});

test('claim(): a handler that settles the job itself is not settled twice', async (t) => {
  const q = tempQueue(t);
  const id = q.enqueue('work', {});
  const outcome = await q.claim('work', (job) => {
    job.fail('handled', 60);
    return 'ignored';
  });
  assert.equal(outcome.ok, true);
  const row = q.job(id);
  assert.equal(row.state, 'ready');
  assert.equal(row.error, 'handled');
  assert.equal(row.result, null);
});

test('claim() with heartbeat keeps a short lease alive', async (t) => {
  const path = tempDb(t);
  const q = new Queue(path, { name: 'slow' });
  const rival = new Queue(path, { name: 'rival' });
  t.after(() => (q.close(), rival.close()));
  const id = q.enqueue('work', {});
  const outcome = await q.claim(
    'work',
    async (job) => {
      await sleep(1500); // 2.5 times the lease
      assert.equal(rival.claimOne('work'), null);
      return job.attempt;
    },
    { lease: 0.6, heartbeat: true }
  );
  assert.equal(outcome.ok, true);
  assert.equal(outcome.result, 1);
  assert.equal(q.job(id).state, 'done');
  assert.equal(q.job(id).attempts, 1);
});

test('fail(error, retryIn) schedules the retry; extend and release', (t) => {
  const q = tempQueue(t);
  setClock(q, T);
  const id = q.enqueue('work', {});
  let job = q.claimOne('work');
  assert.equal(job.extend(120), T + 120);
  assert.equal(job.leaseUntil, T + 120);
  assert.equal(job.fail(new Error('later'), 10), 'ready');
  assert.equal(q.job(id).run_at, T + 10);
  assert.equal(q.job(id).error, 'Error: later');

  setClock(q, T + 10);
  job = q.claimOne('work');
  assert.equal(job.attempt, 2);
  assert.equal(job.release(5), true);
  assert.equal(q.job(id).state, 'ready');
  assert.equal(q.job(id).attempts, 1); // a released attempt does not count
  assert.equal(q.claimOne('work'), null);
  setClock(q, T + 15);
  assert.equal(q.claimOne('work').id, id);
});

test('Symbol.dispose releases an unfinished job, and leaves a finished one alone', (t) => {
  assert.equal(typeof Symbol.dispose, 'symbol');
  const q = tempQueue(t);
  const id = q.enqueue('work', {});
  // What `using job = q.claimOne('work')` does at the end of its block:
  const job = q.claimOne('work');
  job[Symbol.dispose]();
  assert.equal(job.finished, true);
  assert.equal(q.job(id).state, 'ready');
  assert.equal(q.job(id).attempts, 0);

  const again = q.claimOne('work');
  assert.equal(again.id, id);
  assert.equal(again.complete('ok'), true);
  again[Symbol.dispose]();
  assert.equal(q.job(id).state, 'done');
});

test('a stale token changes nothing: complete after the lease ran out and another claim', (t) => {
  const path = tempDb(t);
  const slow = new Queue(path, { name: 'slow' });
  const fast = new Queue(path, { name: 'fast' });
  t.after(() => (slow.close(), fast.close()));
  setClock(slow, T);
  setClock(fast, T + 31); // the 30 s lease has run out for this connection
  const id = slow.enqueue('work', { n: 1 });
  const old = slow.claimOne('work');
  const current = fast.claimOne('work');
  assert.equal(current.id, id);
  assert.equal(current.attempt, 2);
  assert.ok(current.token > old.token);

  assert.equal(old.complete('late'), false);
  assert.equal(old.fail('late'), null);
  assert.equal(old.extend(60), null);
  assert.equal(old.release(), false);
  assert.equal(slow.job(id).state, 'running');
  assert.equal(current.complete('on time'), true);
  assert.equal(slow.job(id).result, 'on time');
  setClock(slow, null);
});

test('wait() is true when a job is due and false after the timeout', (t) => {
  const q = tempQueue(t);
  assert.equal(q.wait('work', 0.05), false);
  q.enqueue('work', {});
  assert.equal(q.wait('work', 0), true);
  assert.equal(q.wait(['other', 'work'], 0), true);
  assert.equal(q.wait('other', 0), false);
});

test('stats() counts per queue and state', (t) => {
  const q = tempQueue(t);
  q.enqueueMany('a', [1, 2, 3]);
  q.enqueue('b', 1, { delay: 60 });
  q.claimOne('a').complete();
  const stats = Object.fromEntries(q.stats().map((s) => [s.queue, s]));
  assert.equal(stats.a.ready, 2);
  assert.equal(stats.a.done, 1);
  assert.equal(stats.b.scheduled, 1);
  assert.equal(stats.b.ready, 0);
});

test('workflow(): parents first, children wait', async (t) => {
  const q = tempQueue(t);
  const wf = q.workflow({
    name: 'etl',
    jobs: [
      { key: 'extract', queue: 'etl', payload: { src: 'x' } },
      { key: 'load', queue: 'etl', payload: {}, depends_on: ['extract'] },
    ],
  });
  assert.equal(typeof wf, 'number');
  const states = () => q.statement('SELECT key, state FROM queue_workflow_jobs(?)').all(wf);
  assert.deepEqual(states(), [
    { key: 'extract', state: 'ready' },
    { key: 'load', state: 'waiting' },
  ]);
  await q.claim('etl', () => ({ rows: 10 }));
  const child = q.claimOne('etl');
  assert.deepEqual(JSON.parse(q.value('SELECT queue_parent_results(?)', child.id)), { extract: { rows: 10 } });
  child.complete();
  assert.equal(q.value('SELECT state FROM queue_workflows WHERE id = ?', wf), 'done');
});

test('task() returns a sender that enqueues with the default options', (t) => {
  const q = tempQueue(t);
  const send = q.task('mail', async () => {}, { priority: 7, max_attempts: 2 });
  assert.equal(send.queue, 'mail');
  const a = send({ to: 'x' });
  const b = send({ to: 'y' }, { priority: 1 });
  assert.equal(q.job(a).priority, 7);
  assert.equal(q.job(b).priority, 1);
  assert.equal(q.job(b).max_attempts, 2);
  assert.deepEqual(q.taskQueues(), ['mail']);
});

test('errors from the extension name the function', (t) => {
  const q = tempQueue(t);
  assert.throws(() => q.enqueue('work', {}, { priorty: 1 }), /queue_enqueue/);
  assert.throws(() => q.enqueue('work', {}, { delay: 1, run_at: T }), /queue_enqueue/);
  assert.throws(() => q.enqueue('bad queue name!', {}), /queue_enqueue/);
  assert.throws(() => q.claimMany('work', -1), /queue_claim/);
  assert.equal(q.value('SELECT count(*) FROM queue_jobs'), 0);
});
