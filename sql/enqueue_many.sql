-- queue_enqueue_many: store one job per element of :payload, a JSON array of
-- strings, each the JSON text of one job's payload (ops.rs builds it from
-- the caller's array, so each payload is stored exactly as written, as
-- queue_enqueue stores it). One statement for the whole batch: SQLite runs
-- one program instead of one per job, half the cost per job of calling
-- queue_enqueue for each. The parameters are enqueue.sql's, in its order,
-- and :seq, the trail's next seq (next_seq.sql), which the jobs' enqueues
-- take one after another. There is no key (a key names one job), so no
-- insert can be refused. The jobs get consecutive ids in array order: a
-- new row's id is the highest id plus one, and this statement holds the
-- write lock. With a group, the jobs take the turns from :lane on
-- (lane.sql), one after another.
INSERT OR FAIL INTO orq_jobs (queue, state, priority, run_at, payload, max_attempts, lease_ms,
                      backoff, key, requires, only_worker, not_workers, timeout_ms,
                      waiting_on, on_parent_failure, workflow, workflow_key, error, finished_at,
                      created_at, updated_at, event,
                      enq_seq, enq_state, enq_detail, grp, lane, affinity_job, affinity_until, follow_key)
SELECT :queue, :state, :priority, :run_at, value, :max_attempts, :lease_ms,
       :backoff, :key, :requires, :only_worker, :not_workers, :timeout_ms,
       :waiting_on, :on_parent_failure, :workflow, :workflow_key, :error, :finished_at,
       :now, :now, 'enqueued',
       :seq + key, {enqueued}, :grp, :lane + key, :affinity_job, :affinity_until, :follow_key
FROM json_each(:payload)
