-- The room rule of a group, written once: how many more jobs of the group
-- of `job` (job.queue, job.grp) may start now. The group's limits are its
-- own (orq_groups, queue_group_configure; looked up only while some group
-- of the queue has limits of its own) over its queue's defaults
-- (group_max_running, group_rate_*): the smaller of the concurrency limit
-- less the group's running jobs (one seek in orq_jobs_group_running,
-- named: orq_jobs_group holds every job of the group) and the rate
-- limit less the group's claims whose window is still open
-- (orq_claim_log). NULL when the job has no group or nothing limits it.
-- No scalar function calls (see room.sql). Spliced into the claims and
-- wait_check.sql.
(CASE WHEN job.grp IS NOT NULL THEN
  (SELECT CASE WHEN running IS NULL OR rated < running THEN rated ELSE running END
   FROM (SELECT
     CASE WHEN s.max_running IS NOT NULL THEN
       (SELECT iif(count(*) < s.max_running, s.max_running - count(*), 0)
        FROM orq_jobs AS r INDEXED BY orq_jobs_group_running
        WHERE r.queue = job.queue AND r.grp = job.grp AND r.state = 'running') END AS running,
     CASE WHEN s.rate_limit IS NOT NULL THEN
       (SELECT iif(count(*) < s.rate_limit, s.rate_limit - count(*), 0)
        FROM orq_claim_log AS l WHERE l.queue = job.queue AND l.grp = job.grp AND l.until > :now) END AS rated
     FROM (SELECT iif(gq.groups_limited > 0,
                      coalesce((SELECT g.max_running FROM orq_groups AS g
                                WHERE g.queue = job.queue AND g.grp = job.grp), gq.group_max_running),
                      gq.group_max_running) AS max_running,
                  iif(gq.groups_rated > 0,
                      coalesce((SELECT g.rate_limit FROM orq_groups AS g
                                WHERE g.queue = job.queue AND g.grp = job.grp), gq.group_rate_limit),
                      gq.group_rate_limit) AS rate_limit
           FROM orq_queues AS gq WHERE gq.name = job.queue) AS s))
 END)
