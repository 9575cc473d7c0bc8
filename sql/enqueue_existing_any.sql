-- queue_enqueue with key_scope "all": the newest job of (queue, key) in any
-- state, finished ones included (an orq_jobs_any_key index seek).
SELECT id FROM orq_jobs
WHERE queue = :queue AND key = :key AND key IS NOT NULL
ORDER BY id DESC
LIMIT 1
