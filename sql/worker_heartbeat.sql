-- queue_worker_heartbeat, queue_worker_beat: a worker is alive; its job
-- counters so far. A worker that was declared dead is alive again (its jobs
-- were lost when it was declared dead: queue_worker_beat tells it so); one
-- that stopped cleanly, or never registered, must register.
UPDATE orq_workers
SET heartbeat_at = :now,
    jobs_done    = coalesce(:done, jobs_done),
    jobs_failed  = coalesce(:failed, jobs_failed),
    stopped_at   = NULL,
    dead         = 0
WHERE name = :name AND (stopped_at IS NULL OR dead)
