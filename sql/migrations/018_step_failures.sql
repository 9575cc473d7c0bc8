-- orq schema v18: a step that fails is retried on its own terms. Each failed
-- try of a step is counted (step_fail.sql), per attempt of its job: a job
-- attempt that starts over (the job failed, and is retried) gives each step
-- its tries afresh. While a step has tries left, its job sleeps until the
-- next one (sleep.sql), its attempt not used up.
CREATE TABLE orq_step_failures (
  job       INTEGER NOT NULL,
  name      TEXT NOT NULL,
  attempt   INTEGER NOT NULL,  -- the job's attempt the failures belong to
  failures  INTEGER NOT NULL,  -- failed tries in that attempt
  error     TEXT NOT NULL,     -- the last one's
  failed_at INTEGER NOT NULL,
  PRIMARY KEY (job, name)
) WITHOUT ROWID;

-- Each failed try is a `step_failed` event of the job's history: the
-- step's name, which try of the attempt it was, and its error. A try
-- replaces the step's row (step_fail.sql), so an insert is every try.
CREATE TRIGGER orq_step_failures_event AFTER INSERT ON orq_step_failures
BEGIN
  INSERT INTO orq_events_stored (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  SELECT (SELECT seq FROM orq_next_seq), NEW.failed_at, id, queue, workflow, 'step_failed', state, state, worker,
         attempts, json_object('name', NEW.name, 'try', NEW.failures, 'error', NEW.error)
  FROM orq_jobs
  WHERE id = NEW.job AND (SELECT events FROM orq_queues WHERE name = orq_jobs.queue) IS NOT 0;
END;

-- As in v17, and a job's step failures go with it.
DROP TRIGGER orq_jobs_steps_purge;
CREATE TRIGGER orq_jobs_steps_purge AFTER DELETE ON orq_jobs
BEGIN
  DELETE FROM orq_steps WHERE job = OLD.id;
  DELETE FROM orq_step_failures WHERE job = OLD.id;
  DELETE FROM orq_awaits WHERE job = OLD.id;
  DELETE FROM orq_spawned WHERE parent = OLD.id;
END;
