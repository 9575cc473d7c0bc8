-- orq schema v7: the triggers on the worker's path call no SQL functions.
--
-- Why: SQLite gives a statement a statement journal when it writes more than
-- one row (a trigger counts) and may abort half way, and any function call
-- compiled into its program counts as "may abort". With the journal, every
-- page the statement touches is first copied in memory (4 KB each) and a
-- statement savepoint opens and closes around it: 15-20% of the time of an
-- enqueue, a claim or a completion inside a transaction. The event detail is
-- therefore built with || (numbers need no JSON escaping); the events that
-- carry an error text (failed, expired, dead, cancelled), which need
-- json_object to escape it, get their own trigger on UPDATE OF error, so it
-- is compiled only into the statements that set an error. max() becomes
-- iif(). The two triggers on a parent's state change become one, so a claim
-- or a completion runs one trigger program fewer; and a new queue is found
-- by the trigger's WHEN, without INSERT ... SELECT from the table it writes
-- (which SQLite runs through a temporary table).
-- Every statement that records one of those four events sets error (cancel
-- sets it to itself): tests/tests/history.rs checks each event is recorded once.

DROP TRIGGER orq_jobs_new_queue;
CREATE TRIGGER orq_jobs_new_queue AFTER INSERT ON orq_jobs
WHEN NOT EXISTS (SELECT 1 FROM orq_queues WHERE name = NEW.queue)
BEGIN
  INSERT INTO orq_queues (name, created_at) VALUES (NEW.queue, NEW.created_at);
END;

DROP TRIGGER orq_jobs_event_insert;
CREATE TRIGGER orq_jobs_event_insert AFTER INSERT ON orq_jobs
WHEN (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, NULL, NEW.state, NULL, NEW.attempts,
          '{"run_at":' || (NEW.run_at / 1000.0) || ',"priority":' || NEW.priority
          || iif(NEW.waiting_on > 0, ',"waiting_on":' || NEW.waiting_on, '') || '}');
END;

DROP TRIGGER orq_jobs_event_update;
CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs
WHEN NEW.event <> 'failed' AND NEW.event <> 'expired' AND NEW.event <> 'dead' AND NEW.event <> 'cancelled'
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state, NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'claimed'  THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0) || '}'
            WHEN 'extended' THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0) || '}'
            WHEN 'retried'  THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
            WHEN 'released' THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
          END);
END;

CREATE TRIGGER orq_jobs_event_error AFTER UPDATE OF error ON orq_jobs
WHEN (NEW.event = 'failed' OR NEW.event = 'expired' OR NEW.event = 'dead' OR NEW.event = 'cancelled')
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state, NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'failed'    THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0)
            WHEN 'expired'   THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0)
            WHEN 'dead'      THEN json_object('error', NEW.error)
            WHEN 'cancelled' THEN json_object('reason', NEW.error)
          END);
END;

-- A parent finished (done, dead or cancelled): its waiting children count
-- it, and those with nothing left to wait for become ready. A dead or
-- cancelled parent brought back (retried) is waited for again by the
-- children that run after a failed parent.
DROP TRIGGER orq_jobs_release_children;
DROP TRIGGER orq_jobs_unsettle_children;
CREATE TRIGGER orq_jobs_children AFTER UPDATE OF state ON orq_jobs
WHEN ((NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled')
      AND (OLD.state <> 'done' AND OLD.state <> 'dead' AND OLD.state <> 'cancelled')
   OR (OLD.state = 'dead' OR OLD.state = 'cancelled')
      AND (NEW.state <> 'done' AND NEW.state <> 'dead' AND NEW.state <> 'cancelled'))
 AND EXISTS (SELECT 1 FROM orq_deps WHERE parent = NEW.id)
BEGIN
  UPDATE orq_jobs SET waiting_on = waiting_on - 1
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting'
    AND (NEW.state = 'done' OR on_parent_failure = 'run')
    AND (NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled');
  UPDATE orq_jobs
  SET state = 'ready', event = 'unblocked',
      run_at = iif(run_at > NEW.updated_at, run_at, NEW.updated_at), updated_at = NEW.updated_at
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting' AND waiting_on = 0
    AND (NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled');
  UPDATE orq_jobs SET waiting_on = waiting_on + 1
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting' AND on_parent_failure = 'run'
    AND (OLD.state = 'dead' OR OLD.state = 'cancelled')
    AND (NEW.state <> 'done' AND NEW.state <> 'dead' AND NEW.state <> 'cancelled');
END;
