'use strict';

// Durable execution from Node (issue 19): job.step, sleep, waitFor, spawn,
// gather, progress; through q.claim. The queue clock is moved with orq_clock.

const test = require('node:test');
const assert = require('node:assert/strict');
const orq = require('..');
const { tempQueue, setClock } = require('../test-support/helpers');

test('a step runs once across runs, and a sleep holds no worker', async (t) => {
  const q = tempQueue(t);
  setClock(q, 1000);
  q.enqueue('orders', { order: 42 });
  let charges = 0;
  const pipeline = async (job) => {
    const payment = await job.step('charge', () => `p-${++charges}`);
    await job.sleep(3600);
    return job.step('ship', async () => ({ payment, shipped: true }));
  };
  const first = await q.claim('orders', pipeline);
  assert.equal(first.suspended, true);
  assert.equal(q.job(1).state, 'ready');
  assert.equal(await q.claim('orders', pipeline), null, 'asleep');
  setClock(q, 4600);
  await q.claim('orders', pipeline);
  assert.equal(charges, 1);
  assert.deepEqual(q.job(1).result, { payment: 'p-1', shipped: true });
});

test('waitFor returns the payload of a signal sent from elsewhere', async (t) => {
  const q = tempQueue(t);
  setClock(q, 1000);
  q.enqueue('approvals', {});
  const handler = (job) => job.waitFor('approved-1', 60);
  await q.claim('approvals', handler);
  assert.equal(q.value("SELECT queue_signal('approved-1', '{\"by\": \"ann\"}')"), 1);
  await q.claim('approvals', handler);
  assert.deepEqual(q.job(1).result, { by: 'ann' });
});

test('spawn and gather fan out once and collect the results', async (t) => {
  const q = tempQueue(t);
  setClock(q, 1000);
  q.enqueue('parent', { sizes: [64, 512] });
  const handler = async (job) => {
    for (const size of job.payload.sizes) await job.spawn('thumbs', { size });
    return job.gather().map((c) => c.result);
  };
  await q.claim('parent', handler);
  assert.equal(q.job(1).state, 'waiting');
  await q.claim('thumbs', (job) => job.payload.size * 2);
  await q.claim('thumbs', (job) => job.payload.size * 2);
  await q.claim('parent', handler);
  assert.deepEqual(q.job(1).result, [128, 1024]);
  assert.deepEqual(
    JSON.parse(q.value('SELECT queue_children(1)')).map((c) => c.id),
    [2, 3],
  );
});

test('a stale job throws LeaseLost; progress shows on the row', async (t) => {
  const q = tempQueue(t);
  setClock(q, 1000);
  q.enqueue('orders', {}, { lease: 30 });
  const stale = q.claimOne('orders');
  setClock(q, 1031);
  const current = q.claimOne('orders');
  await assert.rejects(stale.step('a', () => 1), orq.LeaseLost);
  assert.equal(current.progress(3, '3 of 10'), true);
  assert.equal(stale.progress(4), false);
  assert.deepEqual(q.job(1).progress, { value: 3, message: '3 of 10' });
});

test('a failing step is retried on its own terms without failing the job', async (t) => {
  const q = tempQueue(t);
  setClock(q, 1000);
  q.enqueue('sync', {});
  let tries = 0;
  const handler = (job) =>
    job.step('fetch', async () => {
      if (++tries < 3) throw new Error(`try ${tries}`);
      return 'synced';
    }, { attempts: 3, backoff: { base: 10, jitter: false } });
  for (const wake of [1000, 1010, 1030]) {
    setClock(q, wake);
    await q.claim('sync', handler);
  }
  assert.equal(tries, 3);
  const job = q.job(1);
  assert.deepEqual([job.state, job.attempts, job.result], ['done', 1, 'synced']);
  const steps = JSON.parse(q.value('SELECT queue_steps(1)'));
  assert.deepEqual(steps.map((s) => [s.name, s.failures, s.error]), [['fetch', 2, 'Error: try 2']]);
});

test('a step out of tries throws its error to the handler', async (t) => {
  const q = tempQueue(t);
  setClock(q, 1000);
  q.enqueue('sync', {});
  let listed;
  await q.claim('sync', async (job) => {
    try {
      return await job.step('fetch', () => { throw new TypeError('down'); });
    } catch (err) {
      assert.equal(err.name, 'TypeError');
      const cached = await job.step('fallback', () => 'cached');
      listed = job.steps().map((s) => s.name);
      return cached;
    }
  });
  assert.equal(q.job(1).result, 'cached');
  assert.deepEqual(listed, ['fallback', 'fetch']);
});
