-- queue_enqueue with follow_up: the job that stands for :key in :queue
-- now, if any: one that has not started (waiting or ready: the enqueue
-- returns it), else the newest running one (the enqueue adds a follow-up
-- that waits for it). A key's jobs hold it in `key`, or, for a follow-up,
-- in `follow_key` (migration 015).
SELECT id, state FROM (
  SELECT id, state FROM orq_jobs
  WHERE queue = :queue AND key = :key AND (state = 'waiting' OR state = 'ready' OR state = 'running')
  UNION ALL
  SELECT id, state FROM orq_jobs
  WHERE queue = :queue AND follow_key = :key AND (state = 'waiting' OR state = 'ready' OR state = 'running'))
ORDER BY state = 'running', id DESC
LIMIT 1
