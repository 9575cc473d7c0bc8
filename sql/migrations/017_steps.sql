-- orq schema v17: durable steps and signals. A running job records each
-- named step's result once, fenced by its lease's token (step_record.sql);
-- when the job runs again (a retry, a crash, a sleep) the steps that have a
-- result are read back instead of run again (step_get.sql). A step's record
-- is an event of the job's history, and the steps go with their job. A job
-- may leave its worker to await a named signal (await.sql); the signal's
-- payload becomes a step of each job awaiting it (signal_*.sql), or is kept
-- for the first job to await it. A job may spawn jobs (spawn_note.sql) and
-- wait for all of them without a worker (gather_*.sql: the waiting is a
-- dependency on each, orq_deps' edges of migration 004). A running job
-- reports its progress (progress.sql), kept on its row.
ALTER TABLE orq_jobs ADD COLUMN progress TEXT;  -- JSON: the last queue_progress

CREATE TABLE orq_steps (
  job         INTEGER NOT NULL,
  name        TEXT NOT NULL,
  result      TEXT NOT NULL,     -- JSON ('null' for a step that returns nothing)
  token       INTEGER NOT NULL,  -- the lease that recorded it
  recorded_at INTEGER NOT NULL,
  PRIMARY KEY (job, name)
) WITHOUT ROWID;

CREATE TRIGGER orq_steps_event AFTER INSERT ON orq_steps
BEGIN
  INSERT INTO orq_events_stored (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  SELECT (SELECT seq FROM orq_next_seq), NEW.recorded_at, id, queue, workflow, 'step', state, state, worker, attempts,
         json_object('name', NEW.name)
  FROM orq_jobs
  WHERE id = NEW.job AND (SELECT events FROM orq_queues WHERE name = orq_jobs.queue) IS NOT 0;
END;

-- The signal each parked job awaits (one per job), until when at most.
CREATE TABLE orq_awaits (
  job    INTEGER PRIMARY KEY,
  signal TEXT NOT NULL,
  until  INTEGER NOT NULL
);
CREATE INDEX orq_awaits_signal ON orq_awaits (signal);

-- Signals sent while no job awaited them, kept for the first that does.
CREATE TABLE orq_signals (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  payload    TEXT NOT NULL,   -- JSON
  sent_at    INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX orq_signals_name ON orq_signals (name, id);
CREATE INDEX orq_signals_expiry ON orq_signals (expires_at);

-- The jobs each job spawned while it ran.
CREATE TABLE orq_spawned (
  parent INTEGER NOT NULL,
  child  INTEGER NOT NULL,
  PRIMARY KEY (parent, child)
) WITHOUT ROWID;

CREATE TRIGGER orq_jobs_steps_purge AFTER DELETE ON orq_jobs
BEGIN
  DELETE FROM orq_steps WHERE job = OLD.id;
  DELETE FROM orq_awaits WHERE job = OLD.id;
  DELETE FROM orq_spawned WHERE parent = OLD.id;
END;

-- As in v12, and: a job that goes to sleep (sleep.sql) says until when; a
-- job that gathers its children (gather_park.sql) says how many it waits
-- for; a signal that wakes a job (signal_wake.sql) is recorded (the step
-- recorded just before names it). No subquery in it, and no second trigger
-- on `event`: this one runs for every claim and completion, and either
-- made each claim + completion cost 12-15% more (benches/callgrind.py:
-- 443k and 457k instructions instead of 395k). A job that parks to await a
-- signal is recorded by orq_awaits_event below instead.
DROP TRIGGER orq_jobs_event_update;
CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs
WHEN NEW.event <> 'failed' AND NEW.event <> 'expired' AND NEW.event <> 'dead' AND NEW.event <> 'cancelled'
 AND NEW.event <> 'awaiting'
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events_stored (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES ((SELECT seq FROM orq_next_seq), NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state,
          NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'claimed'   THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0) || '}'
            WHEN 'extended'  THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0) || '}'
            WHEN 'retried'   THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
            WHEN 'released'  THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
            WHEN 'slept'     THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
            WHEN 'gathering' THEN '{"waiting_on":' || NEW.waiting_on || '}'
          END);
END;

-- A job parked to await a signal (await_park.sql, then await_note.sql):
-- its event says which signal, and until when.
CREATE TRIGGER orq_awaits_event AFTER INSERT ON orq_awaits
BEGIN
  INSERT INTO orq_events_stored (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  SELECT (SELECT seq FROM orq_next_seq), updated_at, id, queue, workflow, 'awaiting', 'running', state, worker, attempts,
         json_object('signal', NEW.signal, 'until', NEW.until / 1000.0)
  FROM orq_jobs
  WHERE id = NEW.job AND (SELECT events FROM orq_queues WHERE name = orq_jobs.queue) IS NOT 0;
END;
