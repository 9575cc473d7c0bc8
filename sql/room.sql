-- The room rule, written once: how many more jobs of the queue `q` (its row
-- in orq_queues) may start now. None while it is paused; under its
-- max_running, the limit less its jobs running now (counted in
-- orq_jobs_running, which then holds no more entries than the limit, so
-- the count costs no more than the limit); NULL when nothing limits it.
-- No scalar function calls (min, max): a function compiled into a writing
-- statement makes SQLite give it a statement journal (see sql.rs); iif and
-- CASE are compiled inline.
-- Not a statement of its own: sql.rs splices it into the three claims
-- (claim.sql, claim_queue.sql, claim_limited.sql) and wait_check.sql, so
-- that a claim and queue_wait can never disagree on whether a queue may
-- start a job.
(CASE WHEN q.paused THEN 0
      WHEN q.max_running IS NOT NULL
        THEN (SELECT iif(count(*) < q.max_running, q.max_running - count(*), 0)
              FROM orq_jobs AS r WHERE r.queue = q.name AND r.state = 'running')
 END)
