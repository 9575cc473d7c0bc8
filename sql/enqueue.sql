-- queue_enqueue: store one job. The orq_jobs_new_queue trigger registers the
-- queue and orq_jobs_event_insert records 'enqueued', inside this statement.
-- With a key, a live job of the same (queue, key) wins: nothing is inserted
-- and the caller looks that job up (enqueue_existing.sql). The new id is
-- last_insert_rowid() (the triggers' own inserts do not change it); no
-- RETURNING, which would buffer its row in a temporary b-tree.
-- :state is 'ready', or 'waiting' for :waiting_on unfinished parents, or
-- 'cancelled' when a parent already failed (ops.rs decides).
INSERT OR FAIL INTO orq_jobs (queue, state, priority, run_at, payload, max_attempts, lease_ms,
                      backoff, key, requires, only_worker, not_workers, timeout_ms,
                      waiting_on, on_parent_failure, workflow, workflow_key, error, finished_at,
                      created_at, updated_at, event)
VALUES (:queue, :state, :priority, :run_at, :payload, :max_attempts, :lease_ms,
        :backoff, :key, :requires, :only_worker, :not_workers, :timeout_ms,
        :waiting_on, :on_parent_failure, :workflow, :workflow_key, :error, :finished_at,
        :now, :now, 'enqueued')
ON CONFLICT DO NOTHING
