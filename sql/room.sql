-- The room rule of a queue, written once: how many more jobs of the queue
-- `q` (its row in orq_queues) may start now. None while it is paused; else
-- the smaller of what its limits leave: under max_running, the limit less
-- its jobs running now (counted in orq_jobs_running, which then holds no
-- more entries than the limit); under a rate, the limit less its claims
-- whose window is still open (orq_claim_log, rows of grp ''); NULL when
-- nothing limits it. Its groups' limits are group_room.sql.
-- No scalar function calls (min, max): a function compiled into a writing
-- statement makes SQLite give it a statement journal (see sql.rs); iif,
-- coalesce and CASE are compiled inline.
-- Not a statement of its own: sql.rs splices it into the claims
-- (claim.sql, claim_queue.sql, claim_grouped.sql, claim_limited.sql) and
-- wait_check.sql, so that a claim and queue_wait can never disagree on
-- whether a queue may start a job.
(CASE WHEN q.paused THEN 0
      WHEN q.max_running IS NULL AND q.rate_limit IS NULL THEN NULL
      ELSE (SELECT CASE WHEN running IS NULL OR rated < running THEN rated ELSE running END
            FROM (SELECT
              CASE WHEN q.max_running IS NOT NULL THEN
                (SELECT iif(count(*) < q.max_running, q.max_running - count(*), 0)
                 FROM orq_jobs AS r WHERE r.queue = q.name AND r.state = 'running') END AS running,
              CASE WHEN q.rate_limit IS NOT NULL THEN
                (SELECT iif(count(*) < q.rate_limit, q.rate_limit - count(*), 0)
                 FROM orq_claim_log AS l WHERE l.queue = q.name AND l.grp = '' AND l.until > :now) END AS rated))
 END)
