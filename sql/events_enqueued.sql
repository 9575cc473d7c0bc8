-- queue_events: the enqueues' arm (read events.sql first). Jobs take their
-- enqueues' seqs in id order, so the ids from :first_job to :last_job (a
-- binary search over ids finds them for the seq constraints) hold exactly
-- the enqueues those allow, and the ids' order is the seqs'.
SELECT enq_seq AS seq, created_at / 1000.0 AS at, id AS job, queue, workflow, 'enqueued' AS type,
       NULL AS from_state, enq_state AS to_state, NULL AS worker, 0 AS attempt, enq_detail AS detail
FROM orq_jobs
WHERE enq_state IS NOT NULL AND id BETWEEN :first_job AND :last_job
