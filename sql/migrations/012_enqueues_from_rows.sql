-- orq schema v12: a job's enqueue is read from its own row instead of being
-- stored a second time as an event (issue 16; benches/TRAIL-DESIGN.md).
--
-- The 'enqueued' event cost an enqueue more than the job itself: a trigger
-- run, a row in the trail and an entry in its per-job index (4.30 WAL pages
-- per enqueue against 2.17 without them; with events off orq enqueued 2.4x
-- as fast). Everything that event held is on the job row already, or is now
-- written there by the INSERT itself: the enqueue's place in the trail
-- (enq_seq), the state the job started in (enq_state; NULL when its queue
-- records no events) and the event's detail (enq_detail).
--
-- The table of stored events becomes orq_events_stored, and orq_events is
-- now a view of the whole trail: the stored events and the enqueues. Every
-- reader of orq_events (queue_events, queue_history, queue_replay, the
-- metrics, and anyone's own SQL) sees the same trail as before; only the
-- statements that write events name the table.
--
-- One sequence numbers the whole trail: the next seq (orq_next_seq) is above
-- every stored event and every enqueue. Enqueues take theirs in id order,
-- so the enqueue with the highest seq is the job with the highest id, which
-- purge and retention never delete (as they never delete the job of the
-- newest stored event): a seq is never handed out twice. Jobs enqueued
-- before v12 keep their 'enqueued' events as stored rows (enq_seq 0).

ALTER TABLE orq_jobs ADD COLUMN enq_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orq_jobs ADD COLUMN enq_state TEXT;
ALTER TABLE orq_jobs ADD COLUMN enq_detail TEXT;

ALTER TABLE orq_events RENAME TO orq_events_stored;

-- Two seeks: the newest stored event, the newest job (each a one-row read
-- from the end of its b-tree; max() costs a third more per use, and every
-- stored event uses this). No scalar function calls (see v7): iif and
-- coalesce are compiled inline.
CREATE VIEW orq_next_seq (seq) AS
SELECT iif(e > j, e, j) + 1
FROM (SELECT coalesce((SELECT seq FROM orq_events_stored ORDER BY seq DESC LIMIT 1), 0) AS e,
             coalesce((SELECT enq_seq FROM orq_jobs ORDER BY id DESC LIMIT 1), 0) AS j) AS tails;

CREATE VIEW orq_events (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail) AS
SELECT seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail
FROM orq_events_stored
UNION ALL
SELECT enq_seq, created_at, id, queue, workflow, 'enqueued', NULL, enq_state, NULL, 0, enq_detail
FROM orq_jobs WHERE enq_state IS NOT NULL;

DROP TRIGGER orq_jobs_event_insert;

-- As in v7 and v10, with each event's seq taken from orq_next_seq.
DROP TRIGGER orq_jobs_event_update;
CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs
WHEN NEW.event <> 'failed' AND NEW.event <> 'expired' AND NEW.event <> 'dead' AND NEW.event <> 'cancelled'
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events_stored (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES ((SELECT seq FROM orq_next_seq), NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state,
          NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'claimed'  THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0) || '}'
            WHEN 'extended' THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0) || '}'
            WHEN 'retried'  THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
            WHEN 'released' THEN '{"run_at":' || (NEW.run_at / 1000.0) || '}'
          END);
END;

DROP TRIGGER orq_jobs_event_error;
CREATE TRIGGER orq_jobs_event_error AFTER UPDATE OF error ON orq_jobs
WHEN (NEW.event = 'failed' OR NEW.event = 'expired' OR NEW.event = 'dead' OR NEW.event = 'cancelled')
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events_stored (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES ((SELECT seq FROM orq_next_seq), NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state,
          NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'failed'    THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0, 'cause', NEW.cause)
            WHEN 'expired'   THEN json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0, 'cause', NEW.cause)
            WHEN 'dead'      THEN json_object('error', NEW.error, 'cause', NEW.cause)
            WHEN 'cancelled' THEN json_object('reason', NEW.error, 'cause', NEW.cause)
          END);
END;
