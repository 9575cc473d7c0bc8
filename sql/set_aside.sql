-- A job just claimed whose payload cannot be handed to a worker (it is not
-- UTF-8 text: only corruption or a hand-written row makes one): dead at
-- once, with :error saying why, so that its queue goes on. As fail.sql does
-- for a dead job; the claim's lease (:token) is the one ended.
UPDATE OR FAIL orq_jobs
SET state       = 'dead',
    event       = 'dead',
    error       = :error,
    cause       = 'unreadable_payload',
    finished_at = :now,
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE id = :id AND state = 'running' AND token = :token
