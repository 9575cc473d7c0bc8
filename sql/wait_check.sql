-- queue_wait: when the next job of :queues (a JSON array, or NULL for every
-- queue) may be claimable by :worker: the earliest due ready job it could
-- claim (the routing rule of routable.sql; any job when :worker is NULL), the
-- earliest lease to run out, the next schedule. NULL when none is coming.
-- Read-only; one range of the ready index per queue (short when nothing
-- waits).
SELECT min(t) FROM (
  SELECT min(job.run_at) AS t
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS job ON job.queue = q.name AND job.state = 'ready'
  WHERE q.paused = 0
    AND q.name IN (SELECT value FROM json_each(coalesce(:queues, (SELECT json_group_array(name) FROM orq_queues))))
    AND (:worker IS NULL OR {routable})
  UNION ALL
  SELECT min(j.lease_until)
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.queue = q.name AND j.state = 'running'
  WHERE q.name IN (SELECT value FROM json_each(coalesce(:queues, (SELECT json_group_array(name) FROM orq_queues))))
  UNION ALL
  SELECT min(next_run_at) FROM orq_schedules
)
