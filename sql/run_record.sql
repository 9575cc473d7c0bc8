-- queue_record_run: what one run (one lease) of a job used. Keyed by the
-- lease's token, so recording again replaces.
INSERT OR REPLACE INTO orq_runs (token, job, queue, attempt, worker, outcome, exit_code, started_at,
                                 finished_at, wall_ms, user_ms, sys_ms, max_rss_kb)
SELECT token, id, queue, attempts, worker, :outcome, :exit_code, started_at, :now,
       :wall_ms, :user_ms, :sys_ms, :max_rss_kb
FROM orq_jobs
WHERE id = :id AND token = :token
