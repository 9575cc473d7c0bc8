'use strict';

const { toJson, errorText } = require('./util');

/** orq keeps times in milliseconds: a wait shorter than that is over (seconds). */
const CLOCK_TICK = 0.001;

/**
 * One lease of a job. Every method passes the lease's fencing token, so a
 * worker whose lease ran out (and the job went to someone else) changes
 * nothing: its calls return false/null instead.
 */
class Job {
  /** Private: console.log(job) shows the job, not the whole Queue. */
  #q;

  constructor(queue, row) {
    this.#q = queue;
    this.id = row.id;
    this.queue = row.queue;
    this.payload = row.payload;
    this.attempt = row.attempt;
    this.maxAttempts = row.max_attempts;
    this.priority = row.priority;
    this.token = row.token;
    this.leaseUntil = row.lease_until;
    this.timeout = row.timeout;
    this.lease = row.lease;
    this.finished = false;
  }

  /** True if it completed; false when the lease was lost (stale token). */
  complete(result) {
    const done = this.#q.value('SELECT queue_complete(?, ?, ?)', this.id, this.token, toJson(result)) === 1;
    this.finished = true;
    return done;
  }

  /** The job's new state (`ready` to retry, `dead`), or null when the lease was lost. */
  fail(error, retryIn) {
    const text = error == null ? null : errorText(error);
    const state = this.#q.value('SELECT queue_fail(?, ?, ?, ?)', this.id, this.token, text, retryIn ?? null);
    this.finished = true;
    return state;
  }

  /** The new lease end (unix seconds), or null when the lease was lost. */
  extend(seconds = this.lease) {
    const until = this.#q.value('SELECT queue_extend(?, ?, ?)', this.id, this.token, seconds);
    if (until != null) this.leaseUntil = until;
    return until;
  }

  /** Gives the job back without counting the attempt (a worker shutting down). */
  release(delay = 0) {
    const released = this.#q.value('SELECT queue_release(?, ?, ?)', this.id, this.token, delay) === 1;
    this.finished = true;
    return released;
  }

  // Durable execution (docs/sql/durable.md). A job that runs again (a crash,
  // a lost lease, a retry, a sleep, a wait) runs its handler from the start:
  // each step that already has a result returns it at once.

  /**
   * `fn()`'s result (awaited; any JSON value), recorded once as step `name`.
   * A step that throws with `attempts` (tries per attempt of the job) left
   * is tried again after `backoff` (or `retryIn` seconds), the job asleep
   * meanwhile (queue_step_fail); its last error is thrown on.
   */
  async step(name, fn, { attempts, backoff, retryIn } = {}) {
    const recorded = this.#q.value('SELECT queue_step(?, ?, ?)', this.id, this.token, name);
    if (recorded != null) return JSON.parse(recorded);
    let value;
    try {
      value = await fn();
    } catch (err) {
      if (err?.name === 'Suspended' || err?.name === 'LeaseLost') throw err;
      const retry = JSON.stringify({ attempts, backoff, retry_in: retryIn });
      const failed = this.#q.value('SELECT queue_step_fail(?, ?, ?, ?, ?)', this.id, this.token, name, errorText(err), retry);
      if (failed == null) throw new LeaseLost(this);
      if (failed === 'retry') {
        this.finished = true;
        throw new Suspended(this);
      }
      throw err;
    }
    const text = JSON.stringify(value === undefined ? null : value);
    if (this.#q.value('SELECT queue_step_done(?, ?, ?, ?)', this.id, this.token, name, text) !== 1) {
      throw new LeaseLost(this);
    }
    return value === undefined ? null : value;
  }

  /** Sleeps `seconds` without a worker: the job runs again after them, and this call then returns. */
  async sleep(seconds) {
    const until = await this.step(this.#nextName('sleep'), () => this.#now() + seconds);
    const left = until - this.#now();
    if (left >= CLOCK_TICK) this.#suspend('SELECT queue_sleep(?, ?, ?)', this.id, this.token, left);
  }

  /** Signal `name`'s payload, waiting without a worker up to `timeout` seconds (null: ten years); throws an Error named TimeoutError when the time ran out. */
  async waitFor(name, timeout = null) {
    const payload = this.#q.value('SELECT queue_step(?, ?, ?)', this.id, this.token, `signal:${name}`);
    if (payload != null) return JSON.parse(payload);
    const until = await this.step(`await:${name}`, () => (timeout == null ? null : this.#now() + timeout));
    const left = until == null ? null : until - this.#now();
    if (left != null && left < CLOCK_TICK) {
      const err = new Error(`job ${this.id}: no signal ${JSON.stringify(name)} within ${timeout} s`);
      err.name = 'TimeoutError';
      throw err;
    }
    this.#suspend('SELECT queue_await(?, ?, ?, ?)', this.id, this.token, name, left);
  }

  /** A child job's id, enqueued once however often this job runs again. */
  async spawn(queue, payload, options = {}) {
    const name = this.#nextName('spawn');
    const opts = { key: `orq:${this.id}:${name}`, key_scope: 'all', ...options };
    return this.step(name, () =>
      this.#q.value('SELECT queue_spawn(?, ?, ?, ?, ?)', this.id, this.token, queue, toJson(payload ?? null), JSON.stringify(opts)),
    );
  }

  /** Every job this one spawned (`{id, queue, state, result, error}`) once all finished, waiting without a worker until then. */
  gather() {
    const children = this.children();
    if (children.some((c) => c.state === 'waiting' || c.state === 'ready' || c.state === 'running')) {
      this.#suspend('SELECT queue_gather(?, ?)', this.id, this.token);
    }
    return children;
  }

  /** The jobs this one spawned, as they are now. */
  children() {
    return JSON.parse(this.#q.value('SELECT queue_children(?)', this.id));
  }

  /** This job's steps (`{name, result, recorded_at, failures, error}`), in the order recorded. */
  steps() {
    return JSON.parse(this.#q.value('SELECT queue_steps(?)', this.id));
  }

  /** Reports how far the job got: a number or any JSON value, and/or a message. False when the lease is lost. */
  progress(value, message) {
    const report = message == null ? value ?? null : { value: value ?? null, message };
    return this.#q.value('SELECT queue_progress(?, ?, ?)', this.id, this.token, JSON.stringify(report)) === 1;
  }

  #calls = {};

  #nextName(kind) {
    this.#calls[kind] = (this.#calls[kind] ?? 0) + 1;
    return `${kind}:${this.#calls[kind]}`;
  }

  #now() {
    return this.#q.value('SELECT orq_now()');
  }

  /** Parks the job with `sql` and ends the handler's run (Suspended), or throws LeaseLost. */
  #suspend(sql, ...params) {
    if (this.#q.value(sql, ...params) !== 1) throw new LeaseLost(this);
    this.finished = true;
    throw new Suspended(this);
  }
}

/** Thrown by `sleep`, `waitFor` and `gather` to end the handler's run: the job left its worker and runs again later. */
class Suspended extends Error {
  constructor(job) {
    super(`job ${job.id} left its worker until later`);
    this.name = 'Suspended';
    this.job = job;
  }
}

/** The job's lease ran out and another worker has it (or it finished): this run records nothing more. */
class LeaseLost extends Error {
  constructor(job) {
    super(`job ${job.id}: lease lost (token ${job.token})`);
    this.name = 'LeaseLost';
    this.job = job;
  }
}

if (typeof Symbol.dispose === 'symbol') {
  /** `using job = q.claimOne()` hands an unfinished job back instead of leaving it leased. */
  Job.prototype[Symbol.dispose] = function dispose() {
    if (!this.finished) this.release();
  };
}

module.exports = { Job, Suspended, LeaseLost };
