-- queue_gather: the lease holder's job waits for its :waiting_on unfinished
-- children (gather_count.sql, gather_edges.sql), without a worker and
-- without using up its attempt; with none left it is claimable at once. A
-- child that ends dead or cancelled counts as finished: the job reads each
-- one's state (queue_children) and decides.
UPDATE OR FAIL orq_jobs
SET state             = iif(:waiting_on > 0, 'waiting', 'ready'),
    event             = 'gathering',
    waiting_on        = :waiting_on,
    on_parent_failure = 'run',
    run_at            = :now,
    {unleased}
WHERE id = :id AND state = 'running' AND token = :token
