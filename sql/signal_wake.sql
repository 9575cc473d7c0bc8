-- queue_signal: every parked job awaiting :signal is claimable now.
UPDATE OR FAIL orq_jobs
SET run_at     = min(run_at, :now),
    lane       = NULL,
    event      = 'signalled',
    updated_at = :now
WHERE id IN (SELECT job FROM orq_awaits WHERE signal = :signal) AND state = 'ready'
