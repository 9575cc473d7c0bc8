-- queue_limits: every limit in force, with how many of its jobs run now.
-- One row per queue with a max_running; `grp` (the group a limit is for) is
-- NULL for a limit on the whole queue.
SELECT q.name, NULL, q.max_running,
       (SELECT count(*) FROM orq_jobs AS r WHERE r.queue = q.name AND r.state = 'running')
FROM orq_queues AS q
WHERE q.max_running IS NOT NULL
ORDER BY q.name
