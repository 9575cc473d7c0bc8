-- orq schema v2: the audit trail. Every statement that changes a job names
-- what happened in orq_jobs.event; the triggers below append that change to
-- orq_events inside the same statement, so no state change can go unrecorded.

ALTER TABLE orq_jobs ADD COLUMN event TEXT NOT NULL DEFAULT 'enqueued';
-- Per-queue switch for the hottest queues: 0 records no events.
ALTER TABLE orq_queues ADD COLUMN events INTEGER NOT NULL DEFAULT 1;

-- seq is the rowid: max + 1. After deleting events, purge adds a 'purged'
-- event (purge_marker.sql), so a seq is never handed out twice and a reader
-- that resumes after seq N misses nothing; without AUTOINCREMENT's
-- sqlite_sequence row, which every event would have to update.
CREATE TABLE orq_events (
  seq        INTEGER PRIMARY KEY,
  at         INTEGER NOT NULL,                  -- unix ms
  job        INTEGER NOT NULL,
  queue      TEXT NOT NULL,
  type       TEXT NOT NULL,
  from_state TEXT,                              -- NULL for 'enqueued'
  to_state   TEXT NOT NULL,
  worker     TEXT,
  attempt    INTEGER NOT NULL,
  detail     TEXT                               -- JSON or NULL
);
CREATE INDEX orq_events_job ON orq_events (job, seq);

CREATE TRIGGER orq_jobs_event_insert AFTER INSERT ON orq_jobs
WHEN (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.event, NULL, NEW.state, NULL, NEW.attempts,
          json_object('run_at', NEW.run_at / 1000.0, 'priority', NEW.priority));
END;

CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs
WHEN (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.event, OLD.state, NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'claimed'  THEN json_object('token', NEW.token, 'lease_until', NEW.lease_until / 1000.0)
            WHEN 'extended' THEN json_object('token', NEW.token, 'lease_until', NEW.lease_until / 1000.0)
            WHEN 'failed'   THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0)
            WHEN 'expired'  THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0)
            WHEN 'dead'     THEN json_object('error', NEW.error)
            WHEN 'retried'  THEN json_object('run_at', NEW.run_at / 1000.0)
            WHEN 'released' THEN json_object('run_at', NEW.run_at / 1000.0)
          END);
END;

-- Purging a job takes its history with it.
CREATE TRIGGER orq_jobs_event_purge AFTER DELETE ON orq_jobs
BEGIN
  DELETE FROM orq_events WHERE job = OLD.id;
END;
