-- queue_enqueue with debounce: the key's job that has not started (ready;
-- a waiting job waits for its parents, a running one has started) takes
-- the new payload and starts later, at :run_at (now + the debounce), when
-- it takes its turn (migration 015). The
-- trail records it as 'debounced'. No row: the caller enqueues as usual
-- (and the live key returns a running or waiting job unchanged).
UPDATE OR FAIL orq_jobs
SET payload = :payload, run_at = :run_at, lane = NULL, updated_at = :now, event = 'debounced'
WHERE queue = :queue AND key = :key AND state = 'ready'
RETURNING id
