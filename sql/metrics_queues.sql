-- (after worker_states.sql) queue_metrics' gauges: one row per queue
-- (:queue, or every queue when NULL). Every count is a range of one partial index, as in stats.sql; the
-- worker registry is small and read whole (worker_states.sql says which
-- workers are alive); NULL queues means every queue. The flow gauges
-- (issue 17) are per queue, never per group (a label per tenant would grow
-- the series without bound): how many groups run jobs, the most jobs one
-- group runs, and how many due jobs their queue's or group's limits hold
-- back (room.sql, group_room.sql; the group rule is asked only of queues
-- whose groups have limits).
SELECT q.name AS queue,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'ready' AND run_at <= :now) AS ready,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'ready' AND run_at > :now) AS scheduled,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'running') AS running,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'waiting') AS waiting,
       q.paused AS paused,
       coalesce((SELECT (:now - min(run_at)) / 1000.0 FROM orq_jobs
                  WHERE queue = q.name AND state = 'ready' AND run_at <= :now), 0.0) AS oldest_ready_age_seconds,
       (SELECT count(*) FROM worker_states AS w
         WHERE w.state = 'alive'
           AND (w.queues IS NULL OR EXISTS (SELECT 1 FROM json_each(w.queues) WHERE value = q.name))) AS workers_alive,
       (SELECT count(*) FROM (SELECT 1 FROM orq_jobs INDEXED BY orq_jobs_group_running
                              WHERE queue = q.name AND state = 'running' AND grp IS NOT NULL GROUP BY grp))
         AS groups_running,
       (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM orq_jobs INDEXED BY orq_jobs_group_running
                                         WHERE queue = q.name AND state = 'running' AND grp IS NOT NULL GROUP BY grp))
         AS busiest_group_running,
       CASE WHEN {room} = 0
              THEN (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'ready' AND run_at <= :now)
            WHEN q.group_max_running IS NOT NULL OR q.group_rate_limit IS NOT NULL OR q.groups_limited > 0
              THEN (SELECT count(*) FROM orq_jobs AS job
                    WHERE job.queue = q.name AND job.state = 'ready' AND job.run_at <= :now
                      AND coalesce({group_room}, 1) = 0)
            ELSE 0 END AS held_back
FROM orq_queues AS q
WHERE q.name = coalesce(:queue, q.name)
ORDER BY q.name
