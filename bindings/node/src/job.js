'use strict';

const { toJson, errorText } = require('./util');

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
}

if (typeof Symbol.dispose === 'symbol') {
  /** `using job = q.claimOne()` hands an unfinished job back instead of leaving it leased. */
  Job.prototype[Symbol.dispose] = function dispose() {
    if (!this.finished) this.release();
  };
}

module.exports = { Job };
