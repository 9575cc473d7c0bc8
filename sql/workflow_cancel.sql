-- queue_workflow_cancel: every unfinished job of the workflow is cancelled.
UPDATE orq_jobs
SET state       = 'cancelled',
    event       = 'cancelled',
    error       = 'workflow ' || :workflow || ' cancelled',
    cause       = 'workflow_cancelled',
    finished_at = :now,
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE workflow = :workflow AND workflow_key IS NOT NULL
  AND (state = 'waiting' OR state = 'ready' OR state = 'running')
RETURNING id
