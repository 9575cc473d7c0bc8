-- queue_purge: delete the jobs of :queue (NULL: every queue) that finished
-- (done, dead, cancelled) at or before :cutoff. Their events go with them
-- (trigger orq_jobs_event_purge).
DELETE FROM orq_jobs
WHERE id IN (
  SELECT j.id
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.queue = q.name AND (j.state = 'done' OR j.state = 'dead' OR j.state = 'cancelled')
                          AND j.finished_at <= :cutoff
  WHERE q.name = coalesce(:queue, q.name)
)
