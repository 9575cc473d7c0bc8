-- queue_complete_many when no job has a result (the common case): the same
-- completion as complete_many.sql (read that first) from :jobs, a JSON
-- object of id -> token. json_each's key and value need no function call
-- per job (complete_many.sql's json_extract cost a quarter of its time, and
-- a function call in a statement brings back the statement journal).
-- Made into two statements like complete.sql: read its comment.
UPDATE OR FAIL orq_jobs
SET state       = 'done',
    event       = 'completed',
    result      = NULL,
    finished_at = :now,
    lease_until = NULL,
    updated_at  = :now{watch}
FROM json_each(:jobs)
WHERE orq_jobs.id = json_each.key AND orq_jobs.state = 'running' AND orq_jobs.token = json_each.value AND orq_jobs.{children}
