-- queue_complete: the lease holder (or anyone, with a NULL :token) finishes a
-- running job. A stale token matches nothing and changes nothing.
UPDATE OR FAIL orq_jobs
SET state       = 'done',
    event       = 'completed',
    result      = :result,
    finished_at = :now,
    lease_until = NULL,
    updated_at  = :now
WHERE id = :id AND state = 'running' AND (:token IS NULL OR token = :token)
