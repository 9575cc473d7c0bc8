-- (after worker_states.sql) Workers that missed three heartbeats and have
-- not stopped: no one declared them dead yet.
SELECT name FROM worker_states WHERE state = 'dead' AND stopped_at IS NULL
