-- orq schema v1: queues, jobs and the indexes every hot statement seeks on.
-- Times are unix milliseconds (INTEGER); durations in the SQL API are seconds.

-- Lists of states are written as OR chains, never `state IN (...)`: SQLite
-- builds an ephemeral b-tree for an IN list of more than two constants each
-- time a statement runs, and the CHECK, partial-index WHEREs and trigger
-- WHENs are evaluated on every claim and completion. A query that must use
-- a partial index repeats the index's WHERE term exactly.

-- Key/value facts about this database, such as schema_version.
CREATE TABLE orq_meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;

-- One row per queue ever used; a row appears with the queue's first job
-- (trigger below) or when the queue is paused before it has jobs.
CREATE TABLE orq_queues (
  name       TEXT PRIMARY KEY,
  paused     INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- A purged job's id is never handed out again, so ids kept by applications
-- (and fencing tokens paired with them) never point at a stranger: SQLite
-- gives a new row the highest id plus one, and queue_purge never deletes the
-- job with the highest id (purge.sql). Not AUTOINCREMENT, which does the same
-- by updating a sqlite_sequence row on every insert: one page more in every
-- enqueue's commit (4 WAL frames instead of 5; the first schema v1 and the
-- databases made with it have AUTOINCREMENT, which is as safe, and slower).
CREATE TABLE orq_jobs (
  id           INTEGER PRIMARY KEY,
  queue        TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state = 'waiting' OR state = 'ready' OR state = 'running' OR state = 'done' OR state = 'dead' OR state = 'cancelled'),
  priority     INTEGER NOT NULL DEFAULT 0,
  run_at       INTEGER NOT NULL,          -- due time while ready; when it became due otherwise
  payload      TEXT NOT NULL,             -- JSON
  attempts     INTEGER NOT NULL DEFAULT 0, -- claims so far (an expired lease counts)
  leases       INTEGER NOT NULL DEFAULT 0, -- claims ever (never reset): numbers the tokens
  max_attempts INTEGER NOT NULL,
  lease_ms     INTEGER NOT NULL,          -- how long a claim holds the job
  backoff      TEXT,                      -- JSON {base,factor,max,jitter}; NULL = defaults
  key          TEXT,                      -- idempotency key
  token        INTEGER,                   -- fencing token of the current (or last) lease:
                                          -- id * 2^20 + lease number, unique to the lease
  worker       TEXT,                      -- current (or last) lease holder
  lease_until  INTEGER,                   -- while running
  result       TEXT,                      -- JSON, set on completion
  error        TEXT,                      -- last failure
  created_at   INTEGER NOT NULL,
  started_at   INTEGER,                   -- last claim
  finished_at  INTEGER,                   -- when it became done, dead or cancelled
  updated_at   INTEGER NOT NULL
);

-- Claimable jobs only: the claim walks this in claim order, so a million
-- finished jobs cost it nothing.
CREATE INDEX orq_jobs_ready ON orq_jobs (queue, priority DESC, run_at) WHERE state = 'ready';
-- Leased jobs by lease deadline: finding expired leases is one seek.
CREATE INDEX orq_jobs_running ON orq_jobs (queue, lease_until) WHERE state = 'running';
-- Finished jobs by age, for purge and for per-state counts.
CREATE INDEX orq_jobs_finished ON orq_jobs (queue, state, finished_at)
  WHERE (state = 'done' OR state = 'dead' OR state = 'cancelled');
-- At most one live job per (queue, key).
CREATE UNIQUE INDEX orq_jobs_key ON orq_jobs (queue, key)
  WHERE key IS NOT NULL AND (state = 'waiting' OR state = 'ready' OR state = 'running');

CREATE TRIGGER orq_jobs_new_queue AFTER INSERT ON orq_jobs
BEGIN
  INSERT OR IGNORE INTO orq_queues (name, created_at) VALUES (NEW.queue, NEW.created_at);
END;
