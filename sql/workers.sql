-- (after worker_states.sql) queue_workers: the registry, with each worker's
-- state and the jobs it holds.
SELECT w.name, w.host, w.pid, w.queues, w.capabilities, w.concurrency,
       w.state,
       w.started_at / 1000.0, w.heartbeat_at / 1000.0, w.stopped_at / 1000.0,
       w.jobs_done, w.jobs_failed,
       (SELECT count(*) FROM orq_queues AS q CROSS JOIN orq_jobs AS j
         ON j.queue = q.name AND j.state = 'running' AND j.worker = w.name) AS running,
       w.info
FROM worker_states AS w
ORDER BY w.name
