'use strict';

const os = require('node:os');
const path = require('node:path');
const { load, isLoaded } = require('./load');
const { Job } = require('./job');
const { Worker } = require('./worker');
const { toJson, payloadJson, optionsJson, queuesArg, parseJson, settle } = require('./util');
const { orqErrors } = require('./errors');

/** The PRAGMAs orq's README recommends for a queue database (the orq CLI's own); the cache stays at SQLite's default. */
const PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL', 'temp_store = MEMORY'];

/**
 * A connection to a queue database with orq loaded. better-sqlite3 is
 * synchronous, so every method here runs to completion before returning;
 * only `claim` and workers are async, because handlers are.
 */
class Queue {
  /** Statements are prepared once per SQL text: preparing costs more than most orq calls. */
  #values = new Map();
  #statements = new Map();
  #tasks = new Map();
  #owned;

  constructor(pathOrDb, { name, busyTimeout = 5000 } = {}) {
    if (typeof pathOrDb === 'string') {
      this.db = orqErrors(() => open(pathOrDb, busyTimeout));
      this.#owned = true;
    } else if (pathOrDb && typeof pathOrDb.prepare === 'function') {
      this.db = pathOrDb;
      if (!isLoaded(this.db)) load(this.db);
      this.#owned = false;
    } else {
      throw new TypeError('orq: Queue needs a database path or a better-sqlite3 Database');
    }
    this.name = name ?? `${os.hostname()}-${process.pid}`;
  }

  /** The first column of the first row of `sql`: what every orq function returns. */
  value(sql, ...params) {
    return orqErrors(() => {
      let stmt = this.#values.get(sql);
      if (!stmt) this.#values.set(sql, (stmt = this.db.prepare(sql).pluck()));
      return stmt.get(...params);
    });
  }

  /** A cached statement, for row-returning SQL (queue_stats, queue_jobs, your own). */
  statement(sql) {
    let stmt = this.#statements.get(sql);
    if (!stmt) this.#statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  enqueue(queue, payload, options) {
    return this.value('SELECT queue_enqueue(?, ?, ?)', queue, payloadJson(payload), optionsJson(options));
  }

  /** One statement, all or nothing: a payload that cannot be encoded leaves none of the jobs behind. */
  enqueueMany(queue, payloads, options) {
    const items = `[${Array.from(payloads, payloadJson).join(',')}]`;
    return JSON.parse(this.value('SELECT queue_enqueue_many(?, ?, ?)', queue, items, optionsJson(options)));
  }

  /**
   * The outbox pattern: your writes and the jobs they enqueue commit together
   * or not at all. IMMEDIATE because a deferred transaction that has read
   * cannot take the write lock after another connection wrote.
   */
  transaction(fn) {
    return orqErrors(() => this.db.transaction(() => fn(this)).immediate());
  }

  claimOne(queues, { lease } = {}) {
    return this.claimMany(queues, 1, { lease })[0] ?? null;
  }

  /** queue_claim_json rather than the queue_claim table: a scalar cannot be run twice by the planner. */
  claimMany(queues, n, { lease } = {}) {
    const json = this.value('SELECT queue_claim_json(?, ?, ?, ?)', this.name, n, queuesArg(queues), lease ?? null);
    return JSON.parse(json).map((row) => new Job(this, row));
  }

  /**
   * Completes many jobs in one statement (one commit): Jobs, with `results`
   * (by position) as their results, or [id, token, result?] arrays. How many
   * completed; stale tokens are skipped.
   */
  completeMany(jobs, results = []) {
    const items = Array.from(jobs, (job, i) =>
      Array.isArray(job) ? job : [job.id, job.token, results[i] === undefined ? null : results[i]]
    );
    const done = this.value('SELECT queue_complete_many(?)', JSON.stringify(items));
    for (const job of jobs) if (!Array.isArray(job)) job.finished = true;
    return done;
  }

  /**
   * Claims one job and settles it by how `handler` ends, so a handler cannot
   * leave a job leased: a return completes it, a throw fails it (and is
   * reported, not rethrown, since the queue already recorded it).
   */
  async claim(queues, handler, { lease, heartbeat = false } = {}) {
    const job = this.claimOne(queues, { lease });
    if (!job) return null;
    const timer = heartbeat ? keepLeased(job) : null;
    const outcome = await settle(handler, job).finally(() => clearInterval(timer));
    if (!job.finished && !outcome.lost) outcome.ok ? job.complete(outcome.result) : job.fail(outcome.error);
    return { job, ...outcome };
  }

  /** Sends signal `name`: every job waiting for it (job.waitFor) runs again with `payload`; kept a week when none waits yet. How many it woke. */
  signal(name, payload = null) {
    return this.value('SELECT queue_signal(?, ?)', name, toJson(payload ?? null));
  }

  /** Blocks this thread (and Node's event loop) until a job may be claimable or `timeout` seconds pass. */
  wait(queues, timeout) {
    return this.value('SELECT queue_wait(?, ?, ?)', queuesArg(queues), timeout, this.name) === 1;
  }

  stats() {
    return orqErrors(() => this.statement('SELECT * FROM queue_stats').all());
  }

  job(id) {
    const row = orqErrors(() => this.statement('SELECT * FROM queue_jobs WHERE id = ?').get(id));
    if (!row) return null;
    return { ...row, payload: parseJson(row.payload), result: parseJson(row.result), progress: parseJson(row.progress) };
  }

  workflow(spec) {
    return this.value('SELECT queue_workflow(?)', typeof spec === 'string' ? spec : JSON.stringify(spec));
  }

  /**
   * Registers the handler that workers run for `queue`'s jobs; returns a
   * sender so callers enqueue with the task's default options.
   */
  task(queue, handler, options = {}) {
    if (typeof handler !== 'function') throw new TypeError('orq: task handler must be a function');
    this.#tasks.set(queue, { handler, options });
    const send = (payload, opts) => this.enqueue(queue, payload, { ...options, ...opts });
    return Object.assign(send, { queue });
  }

  /** The handler workers run for `queue`, or undefined. */
  handler(queue) {
    return this.#tasks.get(queue)?.handler;
  }

  /** The queues that have a registered task: a worker's default. */
  taskQueues() {
    return [...this.#tasks.keys()];
  }

  worker(options = {}) {
    return new Worker(this, options);
  }

  /** Closes the database only if this Queue opened it: a Database you passed in stays yours. */
  close() {
    this.#values.clear();
    this.#statements.clear();
    if (this.#owned && this.db.open) this.db.close();
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Queue.prototype[Symbol.dispose] = function dispose() {
    this.close();
  };
}

function open(file, busyTimeout) {
  const Database = requireBetterSqlite3();
  const db = new Database(file, { timeout: busyTimeout });
  try {
    db.pragma(`busy_timeout = ${Math.trunc(Number(busyTimeout))}`);
    for (const pragma of PRAGMAS) db.pragma(pragma);
    return load(db);
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * better-sqlite3 is a peer dependency: the application's copy. npm links a
 * local package (npm install ./bindings/node), and a linked package resolves
 * from its real path, which is outside the application; so look from the
 * application too.
 */
function requireBetterSqlite3() {
  try {
    return require('better-sqlite3');
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    const from = [process.cwd(), require.main?.filename && path.dirname(require.main.filename)].filter(Boolean);
    try {
      return require(require.resolve('better-sqlite3', { paths: from }));
    } catch {
      throw new Error(
        'orq: better-sqlite3 is not installed. orq works on your application\'s copy (a peer dependency, ' +
          'which npm does not install for a package installed from a directory): npm install better-sqlite3@12'
      );
    }
  }
}

/** Extends the lease halfway through, for handlers that may outlive it. */
function keepLeased(job) {
  const timer = setInterval(() => {
    try {
      if (job.finished || job.extend(job.lease) == null) clearInterval(timer);
    } catch {
      // Locked for longer than the busy timeout: the next tick tries again.
    }
  }, job.lease * 500);
  return timer;
}

module.exports = { Queue, PRAGMAS };
