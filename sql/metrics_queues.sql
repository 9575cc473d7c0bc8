-- (after worker_states.sql) queue_metrics' gauges: one row per queue
-- (:queue, or every queue when NULL). Every count is a range of one partial index, as in stats.sql; the
-- worker registry is small and read whole (worker_states.sql says which
-- workers are alive); NULL queues means every queue.
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
           AND (w.queues IS NULL OR EXISTS (SELECT 1 FROM json_each(w.queues) WHERE value = q.name))) AS workers_alive
FROM orq_queues AS q
WHERE q.name = coalesce(:queue, q.name)
ORDER BY q.name
