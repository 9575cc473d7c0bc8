'use strict';

const os = require('node:os');
const { performance } = require('node:perf_hooks');
const { toJson, settle, immediate } = require('./util');
const { Log, chosenFormat } = require('./log');

/** With jobs running the loop must not block in queue_wait (their handlers need the event loop), so it looks for new work this often. */
const BUSY_POLL_MS = 50;
const SIGNALS = ['SIGINT', 'SIGTERM'];
/** The error of a job whose lease ran out before it finished: another worker has it now. */
const LEASE_LOST = 'lease lost; not finished';

/**
 * Runs the handlers registered with `queue.task(...)` for claimed jobs, up to
 * `concurrency` at once, on the Queue's own connection. Claims and completions
 * are synchronous SQLite calls; only the handlers run concurrently.
 * It logs to stderr as `orq worker` does (`logFormat`: human, json or quiet;
 * default $ORQ_LOG_FORMAT, else human).
 */
class Worker {
  #queue;
  #log;
  #running = new Map(); // job id → { job, timer }
  #completions = []; // { job, result } waiting for one queue_complete_many
  #wake = null;
  #run = null;
  #error = null;
  #unhook = () => {};

  constructor(queue, options = {}) {
    const { queues, concurrency = 4, batch, handleSignals = true, idleWait = 0.5, heartbeat = 5, logFormat } = options;
    this.#queue = queue;
    this.#log = new Log(chosenFormat(logFormat));
    this.name = queue.name;
    this.queues = queueList(queues ?? queue.taskQueues());
    this.concurrency = count('concurrency', concurrency);
    this.batch = count('batch', batch ?? concurrency);
    this.handleSignals = handleSignals;
    this.idleWait = idleWait;
    this.heartbeat = heartbeat;
    this.done = 0;
    this.failed = 0;
    this.lost = 0;
    this.stopping = false;
  }

  /** Works until stop() or SIGINT/SIGTERM; resolves once every running handler has ended. */
  run() {
    this.#run ??= this.#work();
    return this.#run;
  }

  /** No new claims; running handlers finish. Resolves when run() does. */
  stop() {
    if (!this.stopping && this.#run) {
      this.#log.worker('stopping', `letting ${this.#running.size} running job(s) finish`);
    }
    this.stopping = true;
    this.#wakeUp();
    return this.#run ?? Promise.resolve();
  }

  get running() {
    return this.#running.size;
  }

  async #work() {
    this.#unhook = this.#hookSignals();
    let error = null;
    let beat = null;
    try {
      this.#register();
      const queues = JSON.stringify(this.queues);
      this.#log.worker('started', `${this.name} (concurrency ${this.concurrency}, queues ${queues})`);
      beat = setInterval(() => this.#attempt(() => this.#heartbeat()), this.heartbeat * 1000);
      await this.#loop();
    } catch (err) {
      error = err;
    }
    this.stopping = true;
    try {
      await this.#drain();
      this.#heartbeat();
      this.#queue.value('SELECT queue_worker_stop(?)', this.name);
      this.#log.worker('stopped', `${this.done} done, ${this.failed} failed`);
    } catch (err) {
      error ??= err;
    } finally {
      clearInterval(beat);
      this.#unhook();
    }
    if (error ?? this.#error) throw error ?? this.#error;
  }

  async #loop() {
    while (!this.stopping) {
      this.#flush();
      const free = this.concurrency - this.#running.size;
      if (free === 0) {
        await this.#nextEvent();
        continue;
      }
      const jobs = this.#queue.claimMany(this.queues, Math.min(free, this.batch));
      for (const job of jobs) this.#start(job);
      // Yielding lets quick handlers finish now, so their completions share one commit.
      if (jobs.length) await immediate();
      else await this.#idle();
    }
  }

  /** Waits for work: in queue_wait when nothing runs, else between handler completions. */
  async #idle() {
    if (this.#running.size === 0) {
      this.#queue.wait(this.queues, this.idleWait);
      return immediate(); // timers, signals and stop() get their turn
    }
    while (!this.stopping && !(await this.#nextEvent(BUSY_POLL_MS)) && !this.#queue.wait(this.queues, 0)) {
      // nothing finished and nothing new: look again
    }
  }

  async #drain() {
    while (this.#running.size) {
      this.#flush();
      await this.#nextEvent();
    }
    this.#flush();
  }

  #start(job) {
    const handler = this.#queue.handler(job.queue);
    // No handler: the job fails without having started, and its line says so (no duration).
    const entry = { job, timer: null, started: handler ? performance.now() : null };
    this.#running.set(job.id, entry);
    this.#keepLeased(entry);
    if (handler) this.#log.job(job, 'started');
    const outcome = handler
      ? settle(handler, job.payload, job)
      : Promise.resolve({ ok: false, error: `no handler for queue ${job.queue}` });
    outcome
      .then((o) => this.#finish(entry, o))
      .catch((err) => {
        this.#error ??= err;
        this.stop();
      });
  }

  #finish({ job, timer, started }, outcome) {
    clearTimeout(timer);
    this.#running.delete(job.id);
    this.#wakeUp();
    const duration = started == null ? null : (performance.now() - started) / 1000;
    const settled = outcome.ok ? encodeResult(outcome.result) : outcome;
    if (!settled.ok) this.failed++;
    if (job.finished) {
      if (settled.ok) this.done++; // the handler completed (or released) the job itself
      this.#log.job(job, settled.ok ? 'done' : 'failed', duration, settled.ok ? null : settled.error);
    } else if (settled.ok) {
      this.#completions.push({ job, result: settled.json, duration });
    } else if (job.fail(settled.error) == null) {
      this.lost++;
      this.#log.job(job, 'lost', duration, LEASE_LOST);
    } else {
      this.#log.job(job, 'failed', duration, settled.error);
    }
  }

  /** Completes finished jobs in one statement: one commit for the lot. */
  #flush() {
    const batch = this.#completions.splice(0);
    if (batch.length === 0) return;
    let completed;
    try {
      completed = batch.length === 1 ? this.#completeOne(batch[0]) : this.#completeMany(batch);
    } catch (err) {
      this.#completions.unshift(...batch); // run() retries them once more while stopping
      throw err;
    }
    for (const { job } of batch) job.finished = true;
    this.done += completed;
    this.lost += batch.length - completed;
    const counted = completed === batch.length ? () => true : ({ job }) => this.#completedHere(job);
    for (const item of batch) {
      if (counted(item)) this.#log.job(item.job, 'done', item.duration);
      else this.#log.job(item.job, 'lost', item.duration, LEASE_LOST);
    }
  }

  /** After a batch in which some completions did not count: whether this one did (done under our lease's token). */
  #completedHere(job) {
    const row = this.#queue.job(job.id);
    return row != null && row.state === 'done' && row.token === job.token;
  }

  #completeOne({ job, result }) {
    return this.#queue.value('SELECT queue_complete(?, ?, ?)', job.id, job.token, result);
  }

  #completeMany(batch) {
    const items = batch.map(({ job, result }) => `[${job.id},${job.token}${result == null ? '' : `,${result}`}]`);
    return this.#queue.value('SELECT queue_complete_many(?)', `[${items.join(',')}]`);
  }

  /** Halfway through each lease, extend it; a lease that cannot be extended is someone else's now. */
  #keepLeased(entry) {
    const { job } = entry;
    entry.timer = setTimeout(() => {
      if (this.#running.get(job.id) !== entry) return;
      const until = this.#attempt(() => job.extend(job.lease));
      if (until !== null) this.#keepLeased(entry); // undefined: an error, try again later
    }, job.lease * 500);
  }

  #register() {
    const info = {
      host: os.hostname(),
      pid: process.pid,
      queues: this.queues,
      concurrency: this.concurrency,
      heartbeat: this.heartbeat,
    };
    this.#queue.value('SELECT queue_worker_register(?, ?)', this.name, JSON.stringify(info));
  }

  /** A worker that was declared dead (missed heartbeats) registers again. */
  #heartbeat() {
    const stats = JSON.stringify({ done: this.done, failed: this.failed });
    if (this.#queue.value('SELECT queue_worker_heartbeat(?, ?)', this.name, stats) === 0) this.#register();
  }

  #hookSignals() {
    if (!this.handleSignals) return () => {};
    const onSignal = (signal) => (this.stopping ? this.#abandon(signal) : this.stop());
    for (const signal of SIGNALS) process.on(signal, onSignal);
    return () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    };
  }

  /** A second signal means "now": hand the running jobs back (attempt not counted) and die of the signal. */
  #abandon(signal) {
    for (const { job } of this.#running.values()) {
      if (!job.finished) this.#attempt(() => job.release());
    }
    this.#unhook();
    process.kill(process.pid, signal);
  }

  /** Timer callbacks must not throw (that would crash the process); a failure is retried next time. */
  #attempt(fn) {
    try {
      return fn();
    } catch {
      return undefined;
    }
  }

  /** Resolves true when a handler finishes or stop() is called, false after `ms`. */
  #nextEvent(ms) {
    return new Promise((resolve) => {
      const timer = ms == null ? null : setTimeout(() => this.#settleWait(resolve, false), ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#settleWait(resolve, true);
      };
    });
  }

  #settleWait(resolve, woken) {
    this.#wake = null;
    resolve(woken);
  }

  #wakeUp() {
    this.#wake?.();
  }
}

/**
 * No result (undefined or null) is stored as SQL NULL, the same whether the
 * job completes alone or in a batch; a result that is not JSON fails the job
 * rather than the worker.
 */
function encodeResult(result) {
  try {
    return { ok: true, json: result === null ? null : toJson(result) };
  } catch (err) {
    return { ok: false, error: `result is not JSON: ${err.message}` };
  }
}

function queueList(queues) {
  const list = typeof queues === 'string' ? [queues] : Array.isArray(queues) ? [...queues] : null;
  if (!list || list.length === 0) {
    throw new Error('orq: the worker has no queues: register a task with queue.task(...) or pass {queues}');
  }
  return list;
}

function count(name, n) {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`orq: ${name} must be a positive integer, got ${n}`);
  return n;
}

module.exports = { Worker };
