-- A failed attempt, written once: whether an event of the audit trail (its
-- columns `type` and `detail`) ends an attempt its worker reported failed:
-- 'failed' (a retry follows), or 'dead' unless its error says the lease was
-- lost ('lease expired' from expire.sql, 'worker NAME died' from
-- worker_jobs_expire.sql). A lost lease is no failure: it counts as expired.
-- Not a statement of its own: spliced into metrics_events.sql (failed_total
-- and failed_per_second_* of queue_metrics) and into orq serve's chart of
-- failed attempts, so the two cannot disagree.
(type = 'failed' OR (type = 'dead' AND NOT coalesce(
  iif(json_valid(detail), json_extract(detail, '$.error'), NULL) = 'lease expired'
  OR iif(json_valid(detail), json_extract(detail, '$.error'), NULL) GLOB 'worker * died', 0)))
