-- queue_events: the audit trail, streamed. Two arms, which the virtual
-- table merges in seq order (vtab/streams.rs, Events): this one, the stored
-- events, and events_enqueued.sql, the enqueues the job rows hold
-- (migration 012). The table adds a WHERE clause around each arm for the
-- constraints SQLite hands it (seq, job, queue, type, workflow) and ORDER BY
-- seq here, job there (the same order).
SELECT seq, at / 1000.0 AS at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail
FROM orq_events_stored
