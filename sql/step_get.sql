-- queue_step: a step's recorded result, for the lease holder only (a stale
-- worker, whose token no longer holds the job, reads nothing).
SELECT s.result
FROM orq_jobs AS j JOIN orq_steps AS s ON s.job = j.id AND s.name = :name
WHERE j.id = :id AND j.state = 'running' AND j.token = :token
