-- queue_health: dead jobs. One range of orq_jobs_finished per queue.
SELECT count(*)
FROM orq_queues AS q
CROSS JOIN orq_jobs AS j ON j.queue = q.name AND (j.state = 'done' OR j.state = 'dead' OR j.state = 'cancelled')
                        AND j.state = 'dead'
