-- queue_cancel: a job that has not finished is cancelled; a running job's
-- token goes stale, so its worker can no longer complete or fail it.
UPDATE orq_jobs
SET state       = 'cancelled',
    event       = 'cancelled',
    error       = error,       -- named so that orq_jobs_event_error records the event
    cause       = 'cancelled',
    finished_at = :now,
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE id = :id AND (state = 'waiting' OR state = 'ready' OR state = 'running')
