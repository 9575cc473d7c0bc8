-- queue_await, with no signal kept for it: the lease holder parks the job
-- until the signal or :until. Like a sleep (sleep.sql) it leaves its worker
-- and its attempt is not counted; the job is claimable again at :until, or
-- at once when the signal comes (signal_wake.sql). Its event is written by
-- the note that await_note.sql writes next (orq_awaits_event, migration 017).
UPDATE OR FAIL orq_jobs
SET state       = 'ready',
    event       = 'awaiting',
    run_at      = :until,
    {unleased}
WHERE id = :id AND state = 'running' AND token = :token
