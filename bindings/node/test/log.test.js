'use strict';
// The worker logs to stderr as `orq worker` does (cli/src/worker/log.rs).

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { tempDb, tempQueue } = require('../test-support/helpers');

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Runs test-support/log-worker.js; its job ids and stderr lines. */
function runWorker(t, logFormat = '', env = {}) {
  const { ORQ_LOG_FORMAT, ...inherited } = process.env; // the test decides
  const child = spawnSync(
    process.execPath,
    [path.join(__dirname, '..', 'test-support', 'log-worker.js'), tempDb(t), logFormat],
    { env: { ...inherited, ...env }, encoding: 'utf8', timeout: 30000 }
  );
  assert.equal(child.status, 0, child.stderr);
  const lines = child.stderr.split('\n').filter(Boolean);
  return { ...JSON.parse(child.stdout), lines };
}

test('human lines by default: start, each job started and ended with its duration, the error, stop', (t) => {
  const { ok, bad, lines } = runWorker(t);
  const text = lines.map((line) => {
    const [time, rest] = [line.slice(0, 24), line.slice(25)];
    assert.match(time, TIME);
    return rest;
  });
  assert.equal(text[0], 'worker started: logger (concurrency 1, queues ["email"])');
  assert.equal(text[1], `job ${ok} [email] attempt 1/1 started`);
  assert.match(text[2], new RegExp(`^job ${ok} \\[email\\] attempt 1/1 done in \\d+\\.\\d{3}s$`));
  assert.equal(text[3], `job ${bad} [email] attempt 1/1 started`);
  assert.match(
    text[4],
    new RegExp(`^job ${bad} \\[email\\] attempt 1/1 failed in \\d+\\.\\d{3}s: RangeError: no such address at all$`)
  );
  assert.deepEqual(text.slice(5), ['worker stopping: letting 0 running job(s) finish', 'worker stopped: 1 done, 1 failed']);
});

test('json lines: the fields of orq worker --log-format json', (t) => {
  const { ok, bad, lines } = runWorker(t, 'json');
  const events = lines.map((line) => JSON.parse(line));
  for (const e of events) {
    assert.match(e.time, TIME);
    delete e.time;
  }
  const durations = events.filter((e) => 'duration' in e).map((e) => e.duration);
  assert.equal(durations.length, 2);
  assert.ok(durations.every((d) => typeof d === 'number' && d >= 0));
  for (const e of events) delete e.duration;
  const job = { queue: 'email', attempt: 1, max_attempts: 1 };
  assert.deepEqual(events, [
    { event: 'worker.started', message: 'logger (concurrency 1, queues ["email"])' },
    { event: 'job.started', job: ok, ...job, outcome: 'started' },
    { event: 'job.done', job: ok, ...job, outcome: 'done' },
    { event: 'job.started', job: bad, ...job, outcome: 'started' },
    { event: 'job.failed', job: bad, ...job, outcome: 'failed', error: 'RangeError: no such address\nat all' },
    { event: 'worker.stopping', message: 'letting 0 running job(s) finish' },
    { event: 'worker.stopped', message: '1 done, 1 failed' },
  ]);
});

test('quiet logs nothing; ORQ_LOG_FORMAT chooses when the code does not, and the code wins', (t) => {
  assert.deepEqual(runWorker(t, 'quiet').lines, []);
  assert.deepEqual(runWorker(t, '', { ORQ_LOG_FORMAT: 'quiet' }).lines, []);
  const { lines } = runWorker(t, 'json', { ORQ_LOG_FORMAT: 'quiet' });
  assert.equal(JSON.parse(lines[0]).event, 'worker.started');
});

test('an unknown log format is refused', (t) => {
  const q = tempQueue(t);
  assert.throws(() => q.worker({ queues: 'a', logFormat: 'loud' }), {
    message: 'orq: logFormat must be one of human, json, quiet; got "loud"',
  });
  const saved = process.env.ORQ_LOG_FORMAT;
  process.env.ORQ_LOG_FORMAT = 'verbose';
  t.after(() => (saved === undefined ? delete process.env.ORQ_LOG_FORMAT : (process.env.ORQ_LOG_FORMAT = saved)));
  assert.throws(() => q.worker({ queues: 'a' }), /ORQ_LOG_FORMAT must be one of human, json, quiet; got "verbose"/);
});

test('a job whose lease ran out before its completion counted is logged lost, its batch-mates done', async (t) => {
  const file = tempDb(t);
  const { Queue } = require('..');
  const q = new Queue(file, { name: 'slowpoke' });
  const rival = new Queue(file, { name: 'rival' });
  t.after(() => (q.close(), rival.close()));
  // Job 1's lease is short: for a rival whose clock is a minute ahead, it has run out; the others' have not.
  const ids = [q.enqueue('x', 1, { lease: 1 }), ...q.enqueueMany('x', [2, 3], { lease: 3600 })];
  let taken = null;
  q.task('x', (n) => {
    if (n === 1) {
      rival.value('SELECT orq_clock(unixepoch() + 60)');
      taken = rival.claimOne('x').id;
    }
    return n;
  });
  const lines = [];
  const write = process.stderr.write;
  process.stderr.write = (chunk) => lines.push(String(chunk).trim()) > 0;
  const worker = q.worker({ concurrency: 3, handleSignals: false, idleWait: 0.05, logFormat: 'json' });
  try {
    const run = worker.run();
    while (worker.done + worker.lost < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    await worker.stop();
    await run;
  } finally {
    process.stderr.write = write;
  }
  const ends = lines.map((l) => JSON.parse(l)).filter((e) => e.event === 'job.done' || e.event === 'job.lost');
  const outcomes = Object.fromEntries(ends.map((e) => [e.job, e.outcome]));
  assert.equal(taken, ids[0]);
  assert.deepEqual(outcomes, { [ids[0]]: 'lost', [ids[1]]: 'done', [ids[2]]: 'done' });
  assert.equal(ends.find((e) => e.job === taken).error, 'lease lost; not finished');
  assert.deepEqual([worker.done, worker.lost], [2, 1]);
});
