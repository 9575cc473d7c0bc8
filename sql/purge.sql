-- queue_purge: delete the jobs of :queue (NULL: every queue) that finished
-- (done, dead, cancelled) at or before :cutoff. Their events go with them
-- (trigger orq_jobs_event_purge). The job with the highest id stays until a
-- newer one exists: SQLite numbers a new job after the highest id there is,
-- so ids, and the lease tokens made from them, are never handed out twice.
-- At most :limit jobs (negative: all): in autocommit a purge runs in
-- slices, each its own transaction (txn::in_slices).
DELETE FROM orq_jobs
WHERE id IN (
  SELECT j.id
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.queue = q.name AND (j.state = 'done' OR j.state = 'dead' OR j.state = 'cancelled')
                          AND j.finished_at <= :cutoff
                          AND j.id < (SELECT max(id) FROM orq_jobs)
  WHERE q.name = coalesce(:queue, q.name)
  LIMIT :limit
)
