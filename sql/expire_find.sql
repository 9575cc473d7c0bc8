-- Before a claim: the running jobs of the queues being claimed whose leases
-- ran out (one range of orq_jobs_running per queue; usually none). :queues
-- is a JSON array of queue names, or NULL for every queue. The names drive
-- the join: `name IN (SELECT value FROM json_each(..))` would build a
-- temporary b-tree on every claim.
SELECT j.id
FROM json_each(coalesce(:queues, (SELECT json_group_array(name) FROM orq_queues))) AS q
CROSS JOIN orq_jobs AS j ON j.queue = q.value AND j.state = 'running' AND j.lease_until <= :now
