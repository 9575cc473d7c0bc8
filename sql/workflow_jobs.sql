-- queue_workflow_jobs(id): the workflow's jobs with the keys they depend on.
SELECT j.workflow_key, j.id, j.queue, j.state, j.attempts, j.max_attempts, j.waiting_on,
       (SELECT json_group_array(p.workflow_key) FROM orq_deps AS d JOIN orq_jobs AS p ON p.id = d.parent
         WHERE d.child = j.id) AS depends_on,
       j.error, j.result, j.started_at / 1000.0, j.finished_at / 1000.0
FROM orq_jobs AS j
WHERE j.workflow = :workflow AND j.workflow_key IS NOT NULL
ORDER BY j.id
