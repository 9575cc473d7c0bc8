-- queue_jobs: one row per job, times in unix seconds. The virtual table adds
-- a WHERE clause for the constraints SQLite hands it (id, queue, state,
-- workflow), with the state as a literal so the matching partial index is used.
SELECT id, queue, state, priority, attempts, max_attempts, payload, result, error,
       run_at / 1000.0, created_at / 1000.0, worker, lease_until / 1000.0, key, token,
       started_at / 1000.0, finished_at / 1000.0, updated_at / 1000.0, lease_ms / 1000.0, backoff,
       timeout_ms / 1000.0, requires, only_worker, not_workers, waiting_on, on_parent_failure,
       workflow, workflow_key, progress
FROM orq_jobs
