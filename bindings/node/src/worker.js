'use strict';

const os = require('node:os');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { spawn } = require('node:child_process');
const { performance } = require('node:perf_hooks');
const { toJson, settle, immediate } = require('./util');
const { Log, chosenFormat } = require('./log');

/** With jobs running the loop must not block in queue_wait (their handlers need the event loop), so it looks for new work this often. */
const BUSY_POLL_MS = 50;
const SIGNALS = ['SIGINT', 'SIGTERM'];
/** The error of a job whose lease ran out before it finished: another worker has it now. */
const LEASE_LOST = 'lease lost; not finished';
/** The environment variable that marks the processes handlers start (see watchdog.js). */
const WATCH_VAR = 'ORQ_WORKER_WATCH';

/**
 * Runs the handlers registered with `queue.task(...)` for claimed jobs, up to
 * `concurrency` at once, on the Queue's own connection. Claims and completions
 * are synchronous SQLite calls; only the handlers run concurrently.
 * It follows orq's worker protocol, as `orq worker` and the Python worker do:
 * it calls queue_worker_beat when the last beat said to, which extends the
 * leases of running jobs, and aborts `job.signal` of the handlers whose
 * leases are lost, without recording their results. Once stopped (stop(),
 * SIGINT/SIGTERM), running handlers may finish within `grace` seconds
 * (default: orq's, 30); then their signals are aborted and their jobs
 * released for another worker at once. A second signal ends the grace period
 * now. Processes a handler starts do not outlive the worker, even when it is
 * killed (see watchdog.js).
 * It logs to stderr as `orq worker` does (`logFormat`: human, json or quiet;
 * default $ORQ_LOG_FORMAT, else human).
 */
class Worker {
  #queue;
  #log;
  #running = new Map(); // job id → { job, controller, started, ending }
  #completions = []; // { job, result } waiting for one queue_complete_many
  #wake = null;
  #run = null;
  #error = null;
  #unhook = () => {};
  #answer = null; // queue_worker_beat's last answer
  #beatTimer = null;
  #nextBeat = 0; // performance.now() of the next beat
  #drainUntil = null;
  #signal = null; // the signal that stopped the worker
  #handlers = 0; // handlers not settled yet, released or lost ones included

  constructor(queue, options = {}) {
    const { queues, concurrency = 4, batch, handleSignals = true, idleWait = 0.5, heartbeat, grace, logFormat } = options;
    this.#queue = queue;
    this.#log = new Log(chosenFormat(logFormat));
    this.name = queue.name;
    this.queues = queueList(queues ?? queue.taskQueues());
    this.concurrency = count('concurrency', concurrency);
    this.batch = count('batch', batch ?? concurrency);
    this.handleSignals = handleSignals;
    this.idleWait = idleWait;
    this.heartbeat = heartbeat; // undefined: orq's default interval
    this.grace = grace; // undefined: orq's default grace period
    this.done = 0;
    this.failed = 0;
    this.lost = 0;
    this.suspended = 0;
    this.stopping = false;
  }

  /** Works until stop() or SIGINT/SIGTERM; resolves once every running handler has ended. */
  run() {
    this.#run ??= this.#work();
    return this.#run;
  }

  /** No new claims; running handlers may finish within the grace period. Resolves when run() does. */
  stop() {
    if (!this.stopping && this.#run) {
      this.#log.worker('stopping', `letting ${this.#running.size} running job(s) finish`);
    }
    if (!this.stopping) this.#drainUntil = performance.now() + 1000 * (this.grace ?? this.#answer?.grace ?? 0);
    this.stopping = true;
    this.#wakeUp();
    return this.#run ?? Promise.resolve();
  }

  get running() {
    return this.#running.size;
  }

  async #work() {
    this.#unhook = this.#hookSignals();
    const watchdog = startWatchdog(this.name);
    let error = null;
    try {
      this.#register();
      this.#beat();
      const queues = JSON.stringify(this.queues);
      this.#log.worker('started', `${this.name} (concurrency ${this.concurrency}, queues ${queues})`);
      await this.#loop();
    } catch (err) {
      error = err;
    }
    if (!this.stopping) this.stop();
    try {
      await this.#drain();
      clearTimeout(this.#beatTimer);
      this.#beat(); // the last counts
      this.#queue.value('SELECT queue_worker_stop(?)', this.name);
      this.#log.worker('stopped', `${this.done} done, ${this.failed} failed`);
    } catch (err) {
      error ??= err;
    } finally {
      clearTimeout(this.#beatTimer);
      this.#unhook();
      watchdog.stop();
    }
    // Released handlers that ignore their signal would keep a stopped process alive.
    if (this.#signal && this.#handlers) process.kill(process.pid, this.#signal);
    if (error ?? this.#error) throw error ?? this.#error;
  }

  async #loop() {
    while (!this.stopping) {
      this.#flush();
      const free = this.concurrency - this.#handlers;
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

  /** Waits for running handlers until the grace period ends, then releases their jobs. */
  async #drain() {
    while (this.#running.size) {
      this.#flush();
      const left = this.#drainUntil - performance.now();
      if (left <= 0) {
        this.#stopHandlers([...this.#running.values()], 'released');
        break;
      }
      await this.#nextEvent(left);
    }
    this.#flush();
  }

  #start(job) {
    const handler = this.#queue.handler(job.queue);
    // No handler: the job fails without having started, and its line says so (no duration).
    const controller = new AbortController();
    const entry = { job, controller, started: handler ? performance.now() : null, ending: null };
    job.signal = controller.signal;
    this.#running.set(job.id, entry);
    this.#handlers++;
    // The beat that extends this lease must come by then.
    this.#scheduleBeat(Math.min(this.#nextBeat, performance.now() + job.lease * 1000 * this.#answer.extend_at));
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

  #finish({ job, started, ending }, outcome) {
    this.#handlers--;
    if (this.#running.get(job.id)?.job === job) this.#running.delete(job.id);
    this.#wakeUp();
    const duration = started == null ? null : (performance.now() - started) / 1000;
    if (ending) {
      // Lost or released: this run's outcome does not count, whatever it was.
      if (ending === 'lost') this.lost++;
      this.#log.job(job, ending, duration, ending === 'lost' ? LEASE_LOST : null);
      return;
    }
    if (outcome.suspended || outcome.lost) {
      // It sleeps or waits without a worker, or its lease is lost.
      if (outcome.lost) this.lost++;
      else this.suspended++;
      this.#log.job(job, outcome.lost ? 'lost' : 'suspended', duration, outcome.lost ? LEASE_LOST : null);
      return;
    }
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

  /**
   * queue_worker_beat, and what its answer says: register again when the
   * registry does not know this worker, abort the handlers whose leases are
   * lost, beat again by `next`.
   */
  #beat() {
    const leases = [];
    for (const { job, ending } of this.#running.values()) if (!ending) leases.push([job.id, job.token, job.lease]);
    const report = JSON.stringify({ done: this.done, failed: this.failed, leases });
    const answer = JSON.parse(this.#queue.value('SELECT queue_worker_beat(?, ?)', this.name, report));
    this.#answer = answer;
    if (!answer.registered) this.#register();
    const lost = new Set(answer.lost.map(([id, token]) => `${id}:${token}`));
    this.#stopHandlers([...this.#running.values()].filter(({ job }) => lost.has(`${job.id}:${job.token}`)), 'lost');
    this.#scheduleBeat(performance.now() + answer.next * 1000);
  }

  /** The next beat at `at` (performance.now() time); a failed beat is tried again then. */
  #scheduleBeat(at) {
    clearTimeout(this.#beatTimer);
    this.#nextBeat = at;
    this.#beatTimer = setTimeout(() => {
      if (this.#attempt(() => this.#beat()) === undefined && this.#nextBeat <= performance.now()) {
        this.#scheduleBeat(performance.now() + 1000);
      }
    }, Math.max(at - performance.now(), 0));
  }

  /** Tells handlers to stop (their job.signal aborts); a released job is handed back now. */
  #stopHandlers(entries, ending) {
    for (const entry of entries) {
      if (entry.ending) continue;
      entry.ending = ending;
      if (ending === 'released' && !entry.job.finished) this.#attempt(() => entry.job.release());
      entry.controller.abort(new Error(ending === 'lost' ? LEASE_LOST : 'released: the worker stopped'));
      this.#running.delete(entry.job.id);
      this.#wakeUp();
    }
  }

  #hookSignals() {
    if (!this.handleSignals) return () => {};
    const onSignal = (signal) => {
      this.#signal ??= signal;
      if (this.stopping) this.#drainUntil = performance.now(); // a second signal: now
      this.stop();
    };
    for (const signal of SIGNALS) process.on(signal, onSignal);
    return () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    };
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

/** Starts watchdog.js beside the worker and marks the environment handlers' processes inherit. */
function startWatchdog(name) {
  const marker = `${name}-${process.pid}-${randomUUID()}`;
  const child = spawn(process.execPath, [path.join(__dirname, 'watchdog.js'), `${WATCH_VAR}=${marker}`, String(process.pid)], {
    stdio: ['pipe', 'ignore', 'inherit'],
    detached: true,
  });
  child.unref();
  const previous = process.env[WATCH_VAR];
  process.env[WATCH_VAR] = marker;
  return {
    stop() {
      if (previous === undefined) delete process.env[WATCH_VAR];
      else process.env[WATCH_VAR] = previous;
      child.stdin.end();
    },
  };
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
