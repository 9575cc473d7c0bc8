-- queue_worker_beat: of the leases a worker says it holds (:leases, a JSON
-- array of [id, token, lease_ms or null]), those past :extend_at of their
-- length are extended: they now end one lease length from now. The length
-- is the one the claim used (the worker reports it), else the job's. A
-- stale token matches nothing, as with queue_extend.
UPDATE OR FAIL orq_jobs
SET lease_until = :now + coalesce(l.lease_ms, orq_jobs.lease_ms),
    event       = 'extended',
    updated_at  = :now
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS token,
             json_extract(value, '$[2]') AS lease_ms
      FROM json_each(:leases)) AS l
WHERE orq_jobs.id = l.id AND orq_jobs.state = 'running' AND orq_jobs.token = l.token
  AND orq_jobs.lease_until - :now <= coalesce(l.lease_ms, orq_jobs.lease_ms) * (1 - :extend_at)
