-- queue_worker_beat: how each lease a worker says it holds (:leases, as in
-- worker_leases_extend.sql) stands after the beat. held = 0: the lease is
-- lost (it ran out and someone else took the job, the worker was declared
-- dead, the job was cancelled or finished): the worker must stop that job
-- and record nothing of it. due_ms: for a held lease, when it passes
-- :extend_at of its length, i.e. when the next beat must come to extend it.
SELECT l.id, l.token, j.id IS NOT NULL AS held,
       CAST(j.lease_until - coalesce(l.lease_ms, j.lease_ms) * (1 - :extend_at) - :now AS INTEGER) AS due_ms
FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS token,
             json_extract(value, '$[2]') AS lease_ms
      FROM json_each(:leases)) AS l
LEFT JOIN orq_jobs AS j ON j.id = l.id AND j.state = 'running' AND j.token = l.token
