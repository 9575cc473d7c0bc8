-- orq schema v3: what workers need. Routing and time limits on jobs, the
-- registry of workers, and the resources each run of a job used.

-- Routing: requires (JSON array of capabilities the claiming worker must all
-- have), only_worker (only that worker may claim), not_workers (JSON array
-- of workers that never may). NULL means no constraint; a claim checks them
-- only for jobs that have one.
ALTER TABLE orq_jobs ADD COLUMN requires TEXT;
ALTER TABLE orq_jobs ADD COLUMN only_worker TEXT;
ALTER TABLE orq_jobs ADD COLUMN not_workers TEXT;
-- How long one run may take before the worker kills it (NULL: no limit).
ALTER TABLE orq_jobs ADD COLUMN timeout_ms INTEGER;

-- Every key, finished jobs included, for enqueue's key_scope "all" (a batch
-- run that resumes must not redo what it already did).
CREATE INDEX orq_jobs_any_key ON orq_jobs (queue, key) WHERE key IS NOT NULL;

-- The worker registry. A worker is dead when it misses three heartbeats.
CREATE TABLE orq_workers (
  name          TEXT PRIMARY KEY,
  host          TEXT,
  pid           INTEGER,
  queues        TEXT,                       -- JSON array, or NULL for every queue
  capabilities  TEXT NOT NULL DEFAULT '[]', -- JSON array
  concurrency   INTEGER,
  info          TEXT,                       -- JSON: version, command, ...
  heartbeat_ms  INTEGER NOT NULL,           -- the interval it promised
  started_at    INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL,
  stopped_at    INTEGER,                    -- stopped cleanly, or found dead
  dead          INTEGER NOT NULL DEFAULT 0,
  jobs_done     INTEGER NOT NULL DEFAULT 0,
  jobs_failed   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- One row per run of a job (per lease), with what the run used.
CREATE TABLE orq_runs (
  token        INTEGER PRIMARY KEY,         -- the lease's fencing token
  job          INTEGER NOT NULL,
  queue        TEXT NOT NULL,
  attempt      INTEGER NOT NULL,
  worker       TEXT,
  outcome      TEXT NOT NULL,               -- done, failed, timeout, lost, released, ...
  exit_code    INTEGER,
  started_at   INTEGER,
  finished_at  INTEGER NOT NULL,
  wall_ms      INTEGER,
  user_ms      INTEGER,
  sys_ms       INTEGER,
  max_rss_kb   INTEGER
);
CREATE INDEX orq_runs_job ON orq_runs (job);
CREATE INDEX orq_runs_queue ON orq_runs (queue, finished_at);

-- Runs go with their job when it is purged.
CREATE TRIGGER orq_jobs_runs_purge AFTER DELETE ON orq_jobs
BEGIN
  DELETE FROM orq_runs WHERE job = OLD.id;
END;
