-- queue_events: the audit trail, streamed. The virtual table adds a WHERE
-- clause for the constraints SQLite hands it (seq, job, queue, type,
-- workflow) and ORDER BY seq.
SELECT seq, at / 1000.0, job, queue, workflow, type, from_state, to_state, worker, attempt, detail
FROM orq_events
