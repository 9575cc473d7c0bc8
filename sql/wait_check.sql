-- queue_wait: when the next job of :queues (a JSON array, or NULL for every
-- queue) may be claimable by :worker: the earliest due ready job it could
-- claim (the routing rule of routable.sql; any job when :worker is NULL) in
-- a queue with room to start it (room.sql) and of a group with room
-- (group_room.sql), the earliest lease to run out (which may also free
-- room), the earliest window of a rate limit to close (which frees room),
-- the earliest end of a job's affinity to another worker (same_worker_as),
-- the next schedule, each as of :now. NULL when none is coming; a
-- completion that frees room is a commit, which wakes the waiter to ask
-- again. So a waiter whose due jobs are all held back by limits sleeps
-- until one of these, and never spins.
-- Read-only; one range of the ready index per queue (short when nothing
-- waits).
SELECT min(t) FROM (
  SELECT min(job.run_at) AS t
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS job ON job.queue = q.name AND job.state = 'ready'
  WHERE coalesce({room}, 1) > 0
    AND q.name IN ({queue_list})
    AND (:worker IS NULL OR {routable})
    AND coalesce({group_room}, 1) > 0
  UNION ALL
  SELECT min(j.lease_until)
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.queue = q.name AND j.state = 'running'
  WHERE q.name IN ({queue_list})
  UNION ALL
  SELECT min(job.affinity_until)
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS job ON job.queue = q.name AND job.state = 'ready'
  WHERE q.name IN ({queue_list}) AND job.affinity_until > :now
  UNION ALL
  SELECT min(l.until)
  FROM orq_queues AS q
  CROSS JOIN orq_claim_log AS l ON l.queue = q.name AND l.until > :now
  WHERE q.name IN ({queue_list})
  UNION ALL
  SELECT min(next_run_at) FROM orq_schedules
)
