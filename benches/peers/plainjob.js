// Figure S, plainjob's side: the four rates of benches/bench.py's side-by-side
// table for plainjob 0.0.14 (npm; better-sqlite3 12.11.1 and its bundled
// SQLite), each on a fresh database of N jobs, through plainjob's public API:
//   enqueue   queue.add() per job: one INSERT, its own transaction
//   batch     queue.addMany(): plainjob's batch API, one better-sqlite3
//             transaction around an INSERT per job
//   claim     one process: queue.getAndMarkJobAsProcessing() (BEGIN IMMEDIATE,
//             SELECT the id, UPDATE its status, COMMIT) + queue.markJobAsDone()
//             per job, the lowest public level that still acks each job
//   procs4    4 OS processes (child_process.fork) doing the same on one
//             database: N / (common start to last finish), with the ids each
//             process completed checked for duplicates and losses
//   worker    for reference: plainjob's own loop (defineWorker, a no-op
//             handler), which also reads each job and checks the cron table
//             in a write transaction of its own per job
// defineQueue() itself sets journal_mode=WAL, synchronous=1 (NORMAL) and
// busy_timeout=5000 on the connection it is given: nothing to add here.
//   node benches/peers/plainjob.js N DIR   -> one JSON object on stdout
'use strict';

const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');

const TYPE = 'bench';
// plainjob logs through console.debug per job unless given a logger.
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

// Epoch milliseconds, sub-millisecond: comparable across processes.
const now = () => performance.timeOrigin + performance.now();

// The fields of bench.py's PAYLOAD: plainjob serializes it with JSON.stringify.
function payload(i) {
  return { user_id: i, template: 'welcome-email', locale: 'en-GB', attempt_hint: 'none', x: 'pad' };
}

function open(plainjob, file) {
  const connection = plainjob.better(new Database(file));
  return plainjob.defineQueue({ connection, logger: quiet });
}

function fresh(plainjob, dir, name) {
  const file = path.join(dir, `plainjob-${name}.db`);
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
  return { file, queue: open(plainjob, file) };
}

function filled(plainjob, dir, name, n) {
  const made = fresh(plainjob, dir, name);
  made.queue.addMany(TYPE, Array.from({ length: n }, (_, i) => payload(i)));
  return made;
}

function timed(n, run) {
  const started = now();
  run();
  return n / ((now() - started) / 1000);
}

function enqueue(plainjob, dir, n) {
  const { queue } = fresh(plainjob, dir, 'enqueue');
  try {
    return timed(n, () => {
      for (let i = 0; i < n; i++) queue.add(TYPE, payload(i));
    });
  } finally {
    queue.close();
  }
}

function batch(plainjob, dir, n) {
  const { queue } = fresh(plainjob, dir, 'batch');
  const jobs = Array.from({ length: n }, (_, i) => payload(i));
  try {
    return timed(n, () => queue.addMany(TYPE, jobs));
  } finally {
    queue.close();
  }
}

// Claims and acks until the queue is empty, adding the ids done to `ids`.
function drain(queue, ids = []) {
  for (let job; (job = queue.getAndMarkJobAsProcessing(TYPE)); ) {
    queue.markJobAsDone(job.id);
    ids.push(job.id);
  }
  return ids;
}

function claim(plainjob, dir, n) {
  const { queue } = filled(plainjob, dir, 'claim', n);
  try {
    let ids;
    const rate = timed(n, () => (ids = drain(queue)));
    if (ids.length !== n) throw new Error(`drained ${ids.length} of ${n}`);
    return rate;
  } finally {
    queue.close();
  }
}

async function worker(plainjob, dir, n) {
  const { queue } = filled(plainjob, dir, 'worker', n);
  let done = 0;
  let finished;
  const all = new Promise((resolve) => (finished = resolve));
  const w = plainjob.defineWorker(TYPE, () => {}, {
    queue,
    logger: quiet,
    onCompleted: () => ++done === n && finished(now()),
  });
  const started = now();
  void w.start();
  const ended = await all;
  await w.stop();
  queue.close();
  return n / ((ended - started) / 1000);
}

// One of the 4 processes: drains from startAt, then reports to the parent.
async function child(file, startAt) {
  const plainjob = await import('plainjob');
  const queue = open(plainjob, file);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - now())));
  const ids = [];
  let errors = 0;
  for (;;) {
    try {
      drain(queue, ids);
      break;
    } catch (e) {
      // SQLITE_BUSY after plainjob's 5 s busy_timeout: counted, then retried.
      if (++errors > 100) throw e;
      console.error(`plainjob process ${process.pid}: ${e.message}`);
    }
  }
  const ended = now();
  queue.close();
  process.send({ ids, errors, ended }, () => process.disconnect());
}

async function processes(plainjob, dir, n, procs) {
  const { file, queue } = filled(plainjob, dir, 'procs', n);
  const startAt = now() + 300 + 50 * procs;
  const results = await Promise.all(
    Array.from({ length: procs }, () => new Promise((resolve, reject) => {
      let result;
      const p = fork(__filename, ['--child', file, String(startAt)]);
      p.on('message', (m) => (result = m));
      p.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`a process exited ${code}`))));
    })),
  );
  const seen = results.flatMap((r) => r.ids);
  const done = queue.countJobs({ type: TYPE, status: plainjob.JobStatus.Done });
  queue.close();
  return {
    rate: n / ((Math.max(...results.map((r) => r.ended)) - startAt) / 1000),
    duplicates: seen.length - new Set(seen).size,
    losses: n - done + (n - new Set(seen).size),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    split: results.map((r) => r.ids.length).sort((a, b) => a - b),
  };
}

async function main() {
  const plainjob = await import('plainjob');
  const n = Number(process.argv[2] ?? 10000);
  const dir = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'orq-plainjob-'));
  const sqlite = new Database(':memory:').prepare('SELECT sqlite_version()').pluck().get();
  const version = (name) => require(`${name}/package.json`).version;
  const out = {
    version: `${version('plainjob')} on better-sqlite3 ${version('better-sqlite3')}, SQLite ${sqlite}, Node ${process.versions.node}`,
    enqueue: enqueue(plainjob, dir, n),
    batch: batch(plainjob, dir, n),
    claim: claim(plainjob, dir, n),
    procs4: await processes(plainjob, dir, n, 4),
    worker: await worker(plainjob, dir, n),
  };
  console.log(JSON.stringify(out));
}

if (process.argv[2] === '--child') {
  child(process.argv[3], Number(process.argv[4])).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
