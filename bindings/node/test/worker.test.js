'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Queue } = require('..');
const { tempDb, tempQueue, sleep } = require('../test-support/helpers');

/** A promise with its resolve function, for "the handler has started". */
function signal() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

test('a worker runs 200 jobs of 2 queues, each exactly once, then stop() resolves', async (t) => {
  const q = tempQueue(t, { name: 'w1' });
  const seen = new Map();
  const allSeen = signal();
  let active = 0;
  let maxActive = 0;
  const handler = async (payload, job) => {
    active++;
    maxActive = Math.max(maxActive, active);
    seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
    await sleep(payload.n % 3); // handlers finish out of order
    active--;
    if (seen.size === 200) allSeen.resolve();
    return { n: payload.n };
  };
  const toA = q.task('a', handler);
  const toB = q.task('b', handler);
  const ids = [];
  for (let n = 0; n < 100; n++) ids.push(toA({ n }), toB({ n }));

  const worker = q.worker({ concurrency: 4, handleSignals: false });
  assert.deepEqual(worker.queues, ['a', 'b']);
  const run = worker.run();
  await allSeen.promise;
  await worker.stop();
  await run;

  assert.deepEqual([...seen.keys()].sort((x, y) => x - y), ids.sort((x, y) => x - y));
  assert.ok([...seen.values()].every((count) => count === 1), 'a job ran twice');
  assert.ok(maxActive <= 4 && maxActive > 1, `max concurrent handlers ${maxActive}`);
  for (const s of q.stats()) {
    assert.deepEqual(
      [s.queue, s.ready, s.scheduled, s.running, s.done, s.dead],
      [s.queue, 0, 0, 0, 100, 0]
    );
  }
  assert.equal(worker.done, 200);
  assert.equal(worker.failed, 0);
  assert.equal(worker.lost, 0);
  assert.deepEqual(q.job(ids[7]).result, { n: q.job(ids[7]).payload.n });
  const row = q.statement('SELECT state, jobs_done, queues, concurrency FROM queue_workers WHERE name = ?').get('w1');
  assert.equal(row.state, 'stopped');
  assert.equal(row.jobs_done, 200);
  assert.equal(row.concurrency, 4);
});

test('stop() while a slow handler runs: the job still completes, nothing new is claimed', async (t) => {
  const q = tempQueue(t);
  const started = signal();
  q.task('slow', async (payload) => {
    started.resolve();
    await sleep(300);
    return payload.n;
  });
  const first = q.enqueue('slow', { n: 1 });
  const second = q.enqueue('slow', { n: 2 });
  const worker = q.worker({ concurrency: 1, handleSignals: false });
  const run = worker.run();
  await started.promise;
  const stopped = worker.stop();
  assert.equal(worker.running, 1);
  await stopped;
  await run;
  assert.equal(q.job(first).state, 'done');
  assert.equal(q.job(first).result, 1);
  assert.equal(q.job(second).state, 'ready');
  assert.equal(q.job(second).attempts, 0);
});

test('failures: a throw fails the attempt; a queue without a handler fails its jobs', async (t) => {
  const q = tempQueue(t);
  q.task('flaky', () => {
    throw new RangeError('out of range');
  });
  const flaky = q.enqueue('flaky', {}, { max_attempts: 1 });
  const orphan = q.enqueue('orphans', {}, { max_attempts: 1 });
  const worker = q.worker({ queues: ['flaky', 'orphans'], handleSignals: false, idleWait: 0.05 });
  const run = worker.run();
  while (q.stats().some((s) => s.dead === 0)) await sleep(10);
  await worker.stop();
  await run;
  assert.equal(q.job(flaky).state, 'dead');
  assert.equal(q.job(flaky).error, 'RangeError: out of range');
  assert.equal(q.job(orphan).state, 'dead');
  assert.equal(q.job(orphan).error, 'no handler for queue orphans');
  assert.equal(worker.failed, 2);
});

test('a handler that returns nothing stores no result, alone or in a batch', async (t) => {
  const q = tempQueue(t);
  q.task('quiet', (payload) => (payload % 2 ? null : undefined));
  q.enqueueMany('quiet', [1, 2, 3, 4, 5]);
  const worker = q.worker({ handleSignals: false, idleWait: 0.05 });
  const run = worker.run();
  while (q.stats()[0].done < 5) await sleep(10);
  await worker.stop();
  await run;
  assert.equal(q.value("SELECT count(*) FROM queue_jobs WHERE state = 'done' AND result IS NULL"), 5);
});

test('a worker extends leases halfway, so a job longer than its lease is not lost', async (t) => {
  const file = tempDb(t);
  const q = new Queue(file, { name: 'owner' });
  const rival = new Queue(file, { name: 'rival' });
  t.after(() => (q.close(), rival.close()));
  let rivalClaim;
  q.task('long', async () => {
    await sleep(1500); // 2.5 times the lease
    rivalClaim = rival.claimOne('long');
    return 'finished';
  });
  const id = q.enqueue('long', {}, { lease: 0.6 });
  const worker = q.worker({ handleSignals: false, idleWait: 0.05 });
  const run = worker.run();
  while (q.job(id).state !== 'done') await sleep(20);
  await worker.stop();
  await run;
  assert.equal(rivalClaim, null);
  assert.equal(q.job(id).attempts, 1);
  assert.equal(q.job(id).result, 'finished');
});

test('a worker wakes when another connection enqueues', async (t) => {
  const file = tempDb(t);
  const q = new Queue(file);
  const producer = new Queue(file);
  t.after(() => (q.close(), producer.close()));
  const got = signal();
  q.task('ping', (payload) => got.resolve(payload));
  const worker = q.worker({ handleSignals: false, idleWait: 0.1 });
  const run = worker.run();
  await sleep(150);
  producer.enqueue('ping', { hello: 1 });
  assert.deepEqual(await got.promise, { hello: 1 });
  await worker.stop();
  await run;
});

test('worker options are checked', (t) => {
  const q = tempQueue(t);
  assert.throws(() => q.worker(), /no queues/);
  assert.throws(() => q.worker({ queues: 'a', concurrency: 0 }), /concurrency/);
});

test('SIGTERM: a worker in a child process finishes its running job and exits 0', async (t) => {
  const file = tempDb(t);
  const db = new Queue(file);
  t.after(() => db.close());
  const running = db.enqueue('slow', { ms: 500 });
  const waiting = db.enqueue('slow', { ms: 500 });

  const child = spawn(process.execPath, [path.join(__dirname, '..', 'test-support', 'worker-process.js'), file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  await new Promise((resolve) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('started')) resolve();
    });
  });
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, sig: null }, stderr);
  assert.equal(db.job(running).state, 'done');
  assert.deepEqual(db.job(running).result, { slept: 500 });
  assert.equal(db.job(waiting).state, 'ready');
  assert.equal(db.value("SELECT state FROM queue_workers WHERE name = 'child'"), 'stopped');
});
