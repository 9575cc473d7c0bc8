-- A failed attempt, written once: whether an event of the audit trail (its
-- columns `type` and `detail`) ends an attempt that failed: 'failed' (a
-- retry follows), or 'dead' unless its cause (migration 010) is a lost
-- lease: 'lease_expired' (expire.sql) or 'worker_died'
-- (worker_jobs_expire.sql). A lost lease is no failure: it counts as
-- expired. Decided by the cause, never by the error text, which a worker
-- chooses. Not a statement of its own: spliced into metrics_events.sql
-- (failed_total and failed_per_second_* of queue_metrics) and into orq
-- serve's chart of failed attempts, so the two cannot disagree.
(type = 'failed' OR (type = 'dead' AND coalesce(
  iif(json_valid(detail), json_extract(detail, '$.cause'), NULL) NOT IN ('lease_expired', 'worker_died'), 1)))
