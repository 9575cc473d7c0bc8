// Types for orq's Node.js package. better-sqlite3's own types are optional
// (@types/better-sqlite3), so databases are described structurally here.

declare global {
  // As @types/node declares it: lets Job and Queue be disposable without
  // requiring the "esnext.disposable" lib of TypeScript ≥ 5.2.
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** The parts of a better-sqlite3 Database that orq uses. */
export interface Database {
  prepare(sql: string): any;
  loadExtension(path: string, entryPoint?: string): unknown;
  transaction<F extends (...args: any[]) => any>(fn: F): any;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
}

/** A queue name, a list of names, or null/undefined for every queue. */
export type Queues = string | readonly string[] | null | undefined;

export interface Backoff {
  /** seconds before the first retry; default 1 */
  base?: number;
  /** growth per attempt; default 2 */
  factor?: number;
  /** upper bound in seconds; default 3600 */
  max?: number;
  /** draw each delay from [½, 1] of it; default true */
  jitter?: boolean;
}

/** The options object of queue_enqueue; every key is optional, unknown keys are an error. */
export interface EnqueueOptions {
  /** higher is claimed first; default 0 */
  priority?: number;
  /** seconds until the job is due (not with run_at) */
  delay?: number;
  /** unix seconds when the job is due (not with delay) */
  run_at?: number;
  /** 1–1,000,000; default 5 */
  max_attempts?: number;
  /** seconds a claim holds the job; default 30 */
  lease?: number;
  backoff?: Backoff;
  /** idempotency key: enqueueing again returns the existing job's id */
  key?: string;
  /** "live" (default): while the keyed job is unfinished; "all": while it exists */
  key_scope?: 'live' | 'all';
  /** seconds, with key: enqueueing again before the keyed job starts replaces its payload and pushes its start back */
  debounce?: number;
  /** with key: an enqueue while the keyed job runs keeps exactly one follow-up run waiting for it */
  follow_up?: boolean;
  /** the job's group (a tenant, a customer): its limits and its fair share of the queue */
  group?: string;
  /** a job id: run on the worker that ran (or runs) that job, while it is alive, for up to same_worker_wait seconds */
  same_worker_as?: number;
  /** seconds to wait for that worker before any worker may take the job; default 60 */
  same_worker_wait?: number;
  /** seconds one run may take */
  timeout?: number;
  /** capabilities a worker must have registered */
  requires?: string[];
  /** only this worker claims the job */
  worker?: string;
  /** these workers never claim the job */
  not_workers?: string[];
  /** job ids that must complete first */
  depends_on?: number[];
  /** default "cancel" */
  on_parent_failure?: 'cancel' | 'run';
}

export interface ClaimOptions {
  /** seconds, overriding each job's own lease */
  lease?: number;
}

export interface QueueOptions {
  /** the worker name claims are made under; default `${hostname}-${pid}` */
  name?: string;
  /** milliseconds a write waits for the lock; default 5000 */
  busyTimeout?: number;
}

/** A leased job. Its methods pass the lease's token: after the lease is lost they change nothing. */
export class Job<P = any> {
  readonly id: number;
  readonly queue: string;
  readonly payload: P;
  /** 1 on the first claim */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  /** fencing token of this lease */
  readonly token: number;
  /** unix seconds */
  leaseUntil: number;
  /** seconds a run may take, or null */
  readonly timeout: number | null;
  /** this claim's lease length in seconds */
  readonly lease: number;
  /** true once complete, fail or release was called */
  finished: boolean;
  /** in a worker's handler: aborted when the handler must stop (its lease is
   * lost, or the worker's grace period ended and the job was released); its
   * result is then not recorded */
  signal?: AbortSignal;
  /** true if completed; false when the token is stale */
  complete(result?: unknown): boolean;
  /** the job's new state, or null when the token is stale */
  fail(error?: unknown, retryIn?: number): 'ready' | 'dead' | null;
  /** the new lease end (unix seconds), or null when the token is stale */
  extend(seconds?: number): number | null;
  /** true if released; the attempt does not count */
  release(delay?: number): boolean;
  /** fn()'s result, recorded once as step `name`; when the job runs again, the recorded one (docs/sql/durable.md) */
  step<T>(name: string, fn: () => T | Promise<T>, retry?: StepRetry): Promise<T>;
  /** sleeps without a worker (throws Suspended to end this run); returns once the time has passed */
  sleep(seconds: number): Promise<void>;
  /** the signal's payload, waiting for it without a worker (throws Suspended, or an Error named TimeoutError) */
  waitFor(name: string, timeout?: number | null): Promise<unknown>;
  /** a child job's id, enqueued once however often this job runs again */
  spawn(queue: string, payload?: unknown, options?: EnqueueOptions): Promise<number>;
  /** the children once all finished (waits without a worker: throws Suspended until then) */
  gather(): ChildJob[];
  /** the jobs this one spawned, as they are now */
  children(): ChildJob[];
  /** this job's steps, in the order recorded, with failed tries (queue_steps) */
  steps(): JobStep[];
  /** reports progress (queue_jobs.progress); false when the token is stale */
  progress(value?: unknown, message?: string): boolean;
  /** releases the job if it is not finished */
  [Symbol.dispose](): void;
}

/** how a step that throws is tried again (queue_step_fail's options) */
export interface StepRetry {
  /** tries per attempt of the job; default 1 (the error is thrown on at once) */
  attempts?: number;
  /** the delay before each further try, the job asleep meanwhile; default as a job's */
  backoff?: Backoff;
  /** a fixed delay in seconds instead of the backoff */
  retryIn?: number;
}

/** a step of a job (queue_steps) */
export interface JobStep {
  name: string;
  result: unknown;
  /** unix seconds; null: not recorded yet (it failed, and is tried again) */
  recorded_at: number | null;
  /** failed tries in the job's current attempt */
  failures: number;
  error: string | null;
}

/** a job spawned by another (queue_children) */
export interface ChildJob {
  id: number;
  queue: string;
  state: 'waiting' | 'ready' | 'running' | 'done' | 'dead' | 'cancelled';
  result: unknown;
  error: string | null;
}

/** thrown by Job.sleep, waitFor and gather to end a run: the job left its worker */
export class Suspended extends Error {
  job: Job;
}
/** the job's lease is lost: this run records nothing more */
export class LeaseLost extends Error {
  job: Job;
}

export type ClaimOutcome<P = any, R = unknown> =
  | { job: Job<P>; ok: true; result: R }
  | { job: Job<P>; ok: false; error: string }
  /** the handler slept or waited without a worker (Suspended), or lost its lease (LeaseLost) */
  | { job: Job<P>; ok: false; suspended?: true; lost?: true };

export interface ClaimHandlerOptions extends ClaimOptions {
  /** extend the lease every lease/2 seconds while the handler runs; default false */
  heartbeat?: boolean;
}

/** A row of queue_stats. */
export interface QueueStats {
  queue: string;
  ready: number;
  scheduled: number;
  running: number;
  done: number;
  dead: number;
  cancelled: number;
  paused: number;
  oldest_ready_age: number | null;
  waiting: number;
}

export type JobState = 'waiting' | 'ready' | 'running' | 'done' | 'dead' | 'cancelled';

/** A row of queue_jobs, with payload, result and progress parsed. */
export interface JobRow<P = any, R = any> {
  id: number;
  queue: string;
  state: JobState;
  priority: number;
  attempts: number;
  max_attempts: number;
  payload: P;
  result: R | null;
  error: string | null;
  run_at: number;
  created_at: number;
  worker: string | null;
  lease_until: number | null;
  key: string | null;
  token: number | null;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
  lease: number;
  backoff: string | null;
  timeout: number | null;
  requires: string | null;
  only_worker: string | null;
  not_workers: string | null;
  waiting_on: number;
  on_parent_failure: string | null;
  workflow: number | null;
  workflow_key: string | null;
  /** the last queue_progress report (any JSON value), or null */
  progress: unknown;
  [column: string]: unknown;
}

export interface WorkflowJob {
  key: string;
  queue: string;
  payload?: unknown;
  depends_on?: string[];
  options?: EnqueueOptions;
}

export interface WorkflowSpec {
  name?: string;
  fail_fast?: boolean;
  jobs: WorkflowJob[];
}

/** What a task's handler gets: the payload, and the job for extend/fail/progress. */
export type TaskHandler<P = any, R = unknown> = (payload: P, job: Job<P>) => R | Promise<R>;

/** Enqueues to the task's queue with its default options (overridable per call). */
export interface Sender<P = any> {
  (payload: P, options?: EnqueueOptions): number;
  readonly queue: string;
}

export interface WorkerOptions {
  /** default: the queues of the registered tasks */
  queues?: string | string[];
  /** handlers running at once; default 4 */
  concurrency?: number;
  /** most jobs per claim; default concurrency */
  batch?: number;
  /** stop gracefully on SIGINT/SIGTERM (a second signal ends the grace period at once); default true */
  handleSignals?: boolean;
  /** seconds one idle queue_wait may block the event loop; default 0.5 */
  idleWait?: number;
  /** seconds between heartbeats, as registered; default orq's (5) */
  heartbeat?: number;
  /** seconds running handlers may take to finish once stopped, then their jobs are released; default orq's (30) */
  grace?: number;
  /** the stderr log, as `orq worker --log-format`; default $ORQ_LOG_FORMAT, else 'human' */
  logFormat?: 'human' | 'json' | 'quiet';
}

export class Worker {
  constructor(queue: Queue, options?: WorkerOptions);
  readonly name: string;
  readonly queues: string[];
  readonly concurrency: number;
  readonly batch: number;
  readonly handleSignals: boolean;
  readonly idleWait: number;
  readonly heartbeat: number | undefined;
  readonly grace: number | undefined;
  /** jobs completed */
  readonly done: number;
  /** handler failures */
  readonly failed: number;
  /** jobs whose lease was lost before they could be settled */
  readonly lost: number;
  /** handlers running now */
  readonly running: number;
  readonly stopping: boolean;
  /** resolves when stopped and every running handler has ended */
  run(): Promise<void>;
  /** no new claims; resolves when run() does */
  stop(): Promise<void>;
}

export class Queue {
  constructor(pathOrDb: string | Database, options?: QueueOptions);
  readonly db: Database;
  readonly name: string;
  /** the first column of the first row of `sql`, with a cached statement */
  value<T = unknown>(sql: string, ...params: unknown[]): T;
  /** a cached prepared statement (better-sqlite3 Statement) */
  statement(sql: string): any;
  enqueue<P = unknown>(queue: string, payload: P, options?: EnqueueOptions): number;
  /** one statement: all the jobs or none; the options apply to each (no key) */
  enqueueMany<P = unknown>(queue: string, payloads: Iterable<P>, options?: EnqueueOptions): number[];
  /** runs fn in BEGIN IMMEDIATE … COMMIT (rolled back if it throws); fn must be synchronous */
  transaction<T>(fn: (queue: Queue) => T): T;
  claimOne<P = any>(queues?: Queues, options?: ClaimOptions): Job<P> | null;
  claimMany<P = any>(queues: Queues, n: number, options?: ClaimOptions): Job<P>[];
  /** completes many jobs in one statement; `results` by position; how many completed */
  completeMany(jobs: Iterable<Job | [number, number, unknown?]>, results?: unknown[]): number;
  /** claims one job, runs handler, completes or fails the job by how it ended; null if none was due */
  claim<P = any, R = unknown>(
    queues: Queues,
    handler: (job: Job<P>) => R | Promise<R>,
    options?: ClaimHandlerOptions
  ): Promise<ClaimOutcome<P, Awaited<R>> | null>;
  /** sends signal `name` to the jobs waiting for it (kept a week when none waits); how many it woke */
  signal(name: string, payload?: unknown): number;
  /** blocks the thread (the event loop too) until a job may be claimable, or timeout seconds */
  wait(queues: Queues, timeout: number): boolean;
  stats(): QueueStats[];
  job<P = any, R = any>(id: number): JobRow<P, R> | null;
  workflow(spec: WorkflowSpec | string): number;
  task<P = any, R = unknown>(queue: string, handler: TaskHandler<P, R>, options?: EnqueueOptions): Sender<P>;
  handler(queue: string): TaskHandler | undefined;
  taskQueues(): string[];
  worker(options?: WorkerOptions): Worker;
  /** closes the database if this Queue opened it */
  close(): void;
  [Symbol.dispose](): void;
}

/** the orq extension this package loads: ORQ_LOADABLE_PATH, lib/liborq.so, or the repository's build */
export function getLoadablePath(): string;
/** loads orq into a better-sqlite3 Database and returns it */
export function load<D extends Database>(db: D): D;

/**
 * Every SQLite error of a Queue call is thrown as the class of its kind
 * (docs/errors.md), read from SQLite's result code and orq's token; `code`
 * is better-sqlite3's ('SQLITE_BUSY', ...), `cause` its error.
 */
export class OrqError extends Error {
  code: string | undefined;
}
/** bad input (SQLITE_ERROR without a token): nothing was changed */
export class InvalidArgument extends OrqError {}
/** no job (or workflow) with that id (SQLITE_ERROR, `[not_found]`) */
export class NotFound extends OrqError {}
/** an orq schema this orq cannot use, e.g. from a newer orq (`[schema]`) */
export class SchemaMismatch extends OrqError {}
/** a constraint refused the change, e.g. another live job holds the key (SQLITE_CONSTRAINT) */
export class Conflict extends OrqError {}
/** another connection held the lock too long (SQLITE_BUSY, SQLITE_LOCKED) */
export class DatabaseBusy extends OrqError {}
/** the database cannot be written (SQLITE_READONLY, SQLITE_PERM) */
export class ReadOnly extends OrqError {}
/** the disk, or the database's max_page_count, is full (SQLITE_FULL) */
export class DatabaseFull extends OrqError {}
/** the database is damaged or is no database (SQLITE_CORRUPT, SQLITE_NOTADB) */
export class Corrupt extends OrqError {}
/** the database file cannot be opened (SQLITE_CANTOPEN) */
export class CannotOpen extends OrqError {}
/** the operating system failed a read, write or lock (SQLITE_IOERR, SQLITE_PROTOCOL) */
export class DiskError extends OrqError {}

declare const orq: {
  getLoadablePath: typeof getLoadablePath;
  load: typeof load;
  Queue: typeof Queue;
  Job: typeof Job;
  Worker: typeof Worker;
  Suspended: typeof Suspended;
  LeaseLost: typeof LeaseLost;
  OrqError: typeof OrqError;
  InvalidArgument: typeof InvalidArgument;
  NotFound: typeof NotFound;
  SchemaMismatch: typeof SchemaMismatch;
  Conflict: typeof Conflict;
  DatabaseBusy: typeof DatabaseBusy;
  ReadOnly: typeof ReadOnly;
  DatabaseFull: typeof DatabaseFull;
  Corrupt: typeof Corrupt;
  CannotOpen: typeof CannotOpen;
  DiskError: typeof DiskError;
};
export default orq;
