-- queue_step_done: records a step's result once, while :token holds the
-- job's lease; a result recorded before is kept (the first one counts).
-- orq_steps_event (migration 017) writes the step into the job's history.
INSERT INTO orq_steps (job, name, result, token, recorded_at)
SELECT id, :name, :result, token, :now
FROM orq_jobs
WHERE id = :id AND state = 'running' AND token = :token
ON CONFLICT (job, name) DO NOTHING
