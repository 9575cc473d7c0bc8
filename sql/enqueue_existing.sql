-- queue_enqueue with a key that a live job holds: that job's id (an
-- orq_jobs_key index seek).
SELECT id FROM orq_jobs
WHERE queue = :queue AND key = :key AND (state = 'waiting' OR state = 'ready' OR state = 'running')
