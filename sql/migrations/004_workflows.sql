-- orq schema v4: dependencies and workflows, schedules, and the workflow of
-- each event.

-- A job with dependencies waits (state 'waiting') until waiting_on, the
-- number of its parents that have not finished, reaches 0.
ALTER TABLE orq_jobs ADD COLUMN waiting_on INTEGER NOT NULL DEFAULT 0;
-- When a parent ends dead or cancelled: NULL (cancel this job too) or 'run'.
ALTER TABLE orq_jobs ADD COLUMN on_parent_failure TEXT;
ALTER TABLE orq_jobs ADD COLUMN workflow INTEGER;
ALTER TABLE orq_jobs ADD COLUMN workflow_key TEXT;
CREATE INDEX orq_jobs_workflow ON orq_jobs (workflow, workflow_key) WHERE workflow IS NOT NULL;
-- Waiting jobs per queue, for queue_stats.
CREATE INDEX orq_jobs_waiting ON orq_jobs (queue) WHERE state = 'waiting';

-- Dependency edges. Finding a job's children is a range of the primary key,
-- so releasing them costs O(children).
CREATE TABLE orq_deps (
  parent INTEGER NOT NULL,
  child  INTEGER NOT NULL,
  PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE INDEX orq_deps_child ON orq_deps (child, parent);

CREATE TABLE orq_workflows (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  fail_fast  INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

-- Recurring jobs. Claims turn due schedules into jobs (schedules.rs).
CREATE TABLE orq_schedules (
  name        TEXT PRIMARY KEY,
  cron        TEXT NOT NULL,        -- 5-field cron, or @every <duration>, @hourly, ...
  tz          TEXT,                 -- IANA time zone; NULL: UTC
  queue       TEXT NOT NULL,
  payload     TEXT NOT NULL,
  options     TEXT,                 -- queue_enqueue options for each job
  next_run_at INTEGER NOT NULL,
  last_run_at INTEGER,
  last_job    INTEGER,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX orq_schedules_due ON orq_schedules (next_run_at);

-- Events name their workflow.
ALTER TABLE orq_events ADD COLUMN workflow INTEGER;
CREATE INDEX orq_events_workflow ON orq_events (workflow, seq) WHERE workflow IS NOT NULL;

DROP TRIGGER orq_jobs_event_insert;
CREATE TRIGGER orq_jobs_event_insert AFTER INSERT ON orq_jobs
WHEN (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, NULL, NEW.state, NULL, NEW.attempts,
          iif(NEW.waiting_on > 0,
              json_object('run_at', NEW.run_at / 1000.0, 'priority', NEW.priority, 'waiting_on', NEW.waiting_on),
              json_object('run_at', NEW.run_at / 1000.0, 'priority', NEW.priority)));
END;

DROP TRIGGER orq_jobs_event_update;
CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs
WHEN (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state, NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'claimed'   THEN json_object('token', NEW.token, 'lease_until', NEW.lease_until / 1000.0)
            WHEN 'extended'  THEN json_object('token', NEW.token, 'lease_until', NEW.lease_until / 1000.0)
            WHEN 'failed'    THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0)
            WHEN 'expired'   THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0)
            WHEN 'dead'      THEN json_object('error', NEW.error)
            WHEN 'cancelled' THEN json_object('reason', NEW.error)
            WHEN 'retried'   THEN json_object('run_at', NEW.run_at / 1000.0)
            WHEN 'released'  THEN json_object('run_at', NEW.run_at / 1000.0)
          END);
END;

-- A parent that completes releases its children, inside the same
-- statement: each child waits for one parent less, and a child that waits
-- for none becomes ready ('unblocked'). A parent that ends dead or
-- cancelled does the same for children that run anyway
-- (on_parent_failure 'run'); the others are cancelled by deps.rs, in the
-- same transaction, all the way down. (+state: children are looked up by
-- id, never by scanning every waiting job.)
CREATE TRIGGER orq_jobs_release_children AFTER UPDATE OF state ON orq_jobs
WHEN (NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled') AND (OLD.state <> 'done' AND OLD.state <> 'dead' AND OLD.state <> 'cancelled')
 AND EXISTS (SELECT 1 FROM orq_deps WHERE parent = NEW.id)
BEGIN
  UPDATE orq_jobs SET waiting_on = waiting_on - 1
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting'
    AND (NEW.state = 'done' OR on_parent_failure = 'run');
  UPDATE orq_jobs
  SET state = 'ready', event = 'unblocked', run_at = max(run_at, NEW.updated_at), updated_at = NEW.updated_at
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting' AND waiting_on = 0;
END;

-- A dead or cancelled parent that is retried has not finished after all:
-- children still waiting that had counted it as finished wait for it again.
CREATE TRIGGER orq_jobs_unsettle_children AFTER UPDATE OF state ON orq_jobs
WHEN (OLD.state = 'dead' OR OLD.state = 'cancelled') AND (NEW.state <> 'done' AND NEW.state <> 'dead' AND NEW.state <> 'cancelled')
 AND EXISTS (SELECT 1 FROM orq_deps WHERE parent = NEW.id)
BEGIN
  UPDATE orq_jobs SET waiting_on = waiting_on + 1
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting' AND on_parent_failure = 'run';
END;

-- Purging a job takes its dependency edges with it.
CREATE TRIGGER orq_jobs_deps_purge AFTER DELETE ON orq_jobs
BEGIN
  DELETE FROM orq_deps WHERE parent = OLD.id;
  DELETE FROM orq_deps WHERE child = OLD.id;
END;
