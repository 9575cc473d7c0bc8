-- queue_complete: the lease holder (or anyone, with a NULL :token) finishes a
-- running job. A stale token matches nothing and changes nothing.
-- Two statements are made of this file by its two markers (sql.rs): for
-- jobs without children the SET list gains nothing and the WHERE says
-- `children = 0`, so the statement names no column that orq_jobs_children
-- watches and SQLite leaves that trigger out; for parents the SET list
-- names `children` and the WHERE says `children > 0` (migration 011).
-- ops.rs runs the second only for what the first did not take.
UPDATE OR FAIL orq_jobs
SET state       = 'done',
    event       = 'completed',
    result      = :result,
    finished_at = :now,
    lease_until = NULL,
    updated_at  = :now{watch}
WHERE id = :id AND state = 'running' AND (:token IS NULL OR token = :token) AND {children}
