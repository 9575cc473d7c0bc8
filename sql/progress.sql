-- queue_progress: the lease holder reports how far the job got (JSON). Not
-- a transition: no event; the last report stays on the row.
UPDATE OR FAIL orq_jobs
SET progress = :progress
WHERE id = :id AND state = 'running' AND token = :token
