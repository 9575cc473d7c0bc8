-- A job of a fail_fast workflow died: every job of the workflow that has
-- not finished is cancelled.
UPDATE orq_jobs
SET state       = 'cancelled',
    event       = 'cancelled',
    error       = 'workflow ' || :workflow || ' failed: job ' || :job || ' is dead',
    cause       = 'workflow_failed',
    finished_at = :now,
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE workflow = :workflow AND workflow_key IS NOT NULL
  AND (state = 'waiting' OR state = 'ready' OR state = 'running')
  AND EXISTS (SELECT 1 FROM orq_workflows WHERE id = :workflow AND fail_fast)
RETURNING id
