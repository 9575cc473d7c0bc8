-- queue_enqueue: store one job (ops.rs has registered its queue first,
-- queue_row.sql). The row records its own 'enqueued' event
-- (enqueued.sql), at the next seq of the trail (migration 012).
-- With a key, a live job of the same (queue, key) wins: nothing is inserted
-- and the caller looks that job up (enqueue_existing.sql). The new id is
-- last_insert_rowid() (the triggers' own inserts do not change it); no
-- RETURNING, which would buffer its row in a temporary b-tree.
-- :state is 'ready', or 'waiting' for :waiting_on unfinished parents, or
-- 'cancelled' when a parent already failed (ops.rs decides). :lane is the
-- job's turn among its group's (lane.sql; NULL without a group).
INSERT OR FAIL INTO orq_jobs (queue, state, priority, run_at, payload, max_attempts, lease_ms,
                      backoff, key, requires, only_worker, not_workers, timeout_ms,
                      waiting_on, on_parent_failure, workflow, workflow_key, error, finished_at,
                      created_at, updated_at, event,
                      enq_seq, enq_state, enq_detail, grp, lane, affinity_job, affinity_until, follow_key)
VALUES (:queue, :state, :priority, :run_at, :payload, :max_attempts, :lease_ms,
        :backoff, :key, :requires, :only_worker, :not_workers, :timeout_ms,
        :waiting_on, :on_parent_failure, :workflow, :workflow_key, :error, :finished_at,
        :now, :now, 'enqueued',
        (SELECT seq FROM orq_next_seq), {enqueued}, :grp, :lane, :affinity_job, :affinity_until, :follow_key)
ON CONFLICT DO NOTHING
