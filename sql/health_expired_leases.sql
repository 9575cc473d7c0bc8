-- queue_health: running jobs whose lease ran out (the next claim of their
-- queue returns them). One range of orq_jobs_running per queue.
SELECT count(*)
FROM orq_queues AS q
CROSS JOIN orq_jobs AS j ON j.queue = q.name AND j.state = 'running' AND j.lease_until < :now
