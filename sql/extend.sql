-- queue_extend: the lease holder's heartbeat; the lease now ends :lease_ms
-- from now (the caller knows that time: no RETURNING needed).
UPDATE OR FAIL orq_jobs
SET lease_until = :now + :lease_ms,
    event       = 'extended',
    updated_at  = :now
WHERE id = :id AND state = 'running' AND (:token IS NULL OR token = :token)
