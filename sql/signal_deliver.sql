-- queue_signal: the payload becomes step 'signal:NAME' of every parked job
-- awaiting :signal (a step that has a result keeps it), recorded with the
-- token of the job's last lease.
INSERT INTO orq_steps (job, name, result, token, recorded_at)
SELECT j.id, 'signal:' || :signal, :payload, j.token, :now
FROM orq_awaits AS a JOIN orq_jobs AS j ON j.id = a.job
WHERE a.signal = :signal AND j.state = 'ready'
ON CONFLICT (job, name) DO NOTHING
