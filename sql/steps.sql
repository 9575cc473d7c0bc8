-- queue_steps: job :id's steps as a JSON array, in the order they were
-- recorded (within one millisecond, by name), then the steps that failed
-- and have no result yet, in the order of their last failure. A step shows
-- its result, and its failed tries of the job's attempt with the last error.
SELECT coalesce(json_group_array(json(step)), '[]') FROM (
  SELECT json_object('name', s.name, 'result', json(s.result), 'recorded_at', s.recorded_at / 1000.0,
                     'failures', coalesce(f.failures, 0), 'error', f.error) AS step,
         s.recorded_at AS at, s.name AS name
  FROM orq_steps AS s LEFT JOIN orq_step_failures AS f ON f.job = s.job AND f.name = s.name
  WHERE s.job = :id
  UNION ALL
  SELECT json_object('name', f.name, 'result', NULL, 'recorded_at', NULL,
                     'failures', f.failures, 'error', f.error),
         9000000000000000000 + f.failed_at, f.name
  FROM orq_step_failures AS f
  WHERE f.job = :id AND NOT EXISTS (SELECT 1 FROM orq_steps AS s WHERE s.job = f.job AND s.name = f.name)
  ORDER BY at, name
)
