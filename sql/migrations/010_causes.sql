-- orq schema v10: a transition's cause is data. The statement that ends an
-- attempt or a job with an error sets orq_jobs.cause beside error (the text,
-- for people), and orq_jobs_event_error copies it into the event's detail
-- as "cause", so a reader branches on the cause and never parses the text
-- (a worker may fail a job with any text, even 'lease expired'). Causes:
--   failed              queue_fail: the worker reported a failure (fail.sql)
--   lease_expired       the lease ran out (expire.sql)
--   worker_died         its worker was declared dead (worker_jobs_expire.sql)
--   unreadable_payload  its payload is not UTF-8 text (set_aside.sql)
--   cancelled           queue_cancel (cancel.sql)
--   parent_ended        a parent ended dead or cancelled (deps_cancel_children.sql)
--   workflow_cancelled  queue_workflow_cancel (workflow_cancel.sql)
--   workflow_failed     a job of its fail_fast workflow died (workflow_fail_fast.sql)
-- Like error, a job's cause stays until the next such transition replaces it.
ALTER TABLE orq_jobs ADD COLUMN cause TEXT;

-- As in v7 (read its comment first): no function call but json_object, which
-- this trigger already needed; cause goes last, where the backfill below puts it.
DROP TRIGGER orq_jobs_event_error;
CREATE TRIGGER orq_jobs_event_error AFTER UPDATE OF error ON orq_jobs
WHEN (NEW.event = 'failed' OR NEW.event = 'expired' OR NEW.event = 'dead' OR NEW.event = 'cancelled')
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state, NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'failed'    THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0, 'cause', NEW.cause)
            WHEN 'expired'   THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0, 'cause', NEW.cause)
            WHEN 'dead'      THEN json_object('error', NEW.error, 'cause', NEW.cause)
            WHEN 'cancelled' THEN json_object('reason', NEW.error, 'cause', NEW.cause)
          END);
END;

-- Once, the causes of what happened before v10, read from the texts orq
-- wrote then (the only place a cause is ever read from text): for the
-- events that carry an error, and for each job (whose error, and so its
-- cause, stays when it is retried or claimed again). A failure whose text
-- mimicked orq's own cannot be told apart here. A view, not a table: the
-- upgrade may run inside a statement (a claim), and no table can be
-- dropped while one runs. Not a TEMP view: a connection that has opened
-- its temp schema begins a transaction on it in every later statement
-- (measured: one more per enqueue, claim and completion, +1% instructions).
CREATE VIEW orq_cause_of (kind, id, cause) AS
SELECT kind, id,
       CASE
         WHEN type = 'cancelled' THEN CASE
           WHEN error GLOB 'parent * ended *' THEN 'parent_ended'
           WHEN error GLOB 'workflow * failed: job * is dead' THEN 'workflow_failed'
           WHEN error GLOB 'workflow * cancelled' THEN 'workflow_cancelled'
           ELSE 'cancelled' END
         WHEN type = 'failed' THEN 'failed'
         WHEN error = 'lease expired' THEN 'lease_expired'
         WHEN error GLOB 'worker * died' THEN 'worker_died'
         WHEN type = 'expired' THEN 'lease_expired'
         WHEN error GLOB 'job * was set aside: its payload is not valid UTF-8 text*' THEN 'unreadable_payload'
         ELSE 'failed'
       END
FROM (SELECT 'event' AS kind, seq AS id, type,
             json_extract(detail, iif(type = 'cancelled', '$.reason', '$.error')) AS error
      FROM orq_events
      UNION ALL
      SELECT 'job', id, event, error FROM orq_jobs);

UPDATE orq_events
SET detail = json_set(detail, '$.cause', (SELECT cause FROM orq_cause_of WHERE kind = 'event' AND id = seq))
WHERE (type = 'failed' OR type = 'expired' OR type = 'dead' OR type = 'cancelled') AND json_valid(detail);

UPDATE orq_jobs
SET cause = (SELECT cause FROM orq_cause_of AS c WHERE c.kind = 'job' AND c.id = orq_jobs.id)
WHERE error IS NOT NULL OR event = 'cancelled';

DROP VIEW orq_cause_of;
