-- queue_complete_many: many completions in one statement. :jobs is a JSON
-- array of [id, token, result-as-JSON-text-or-null] (made canonical by the
-- caller). Stale tokens match nothing, as with queue_complete.
-- Made into two statements like complete.sql: read its comment.
UPDATE OR FAIL orq_jobs
SET state       = 'done',
    event       = 'completed',
    result      = c.result,
    finished_at = :now,
    lease_until = NULL,
    updated_at  = :now{watch}
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS token,
             json_extract(value, '$[2]') AS result
      FROM json_each(:jobs)) AS c
WHERE orq_jobs.id = c.id AND orq_jobs.state = 'running' AND orq_jobs.token = c.token AND orq_jobs.{children}
