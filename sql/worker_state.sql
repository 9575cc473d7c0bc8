-- (after worker_states.sql) queue_worker_beat: one worker's state before its
-- beat, and the heartbeat interval it registered. No row: never registered.
SELECT state, dead, heartbeat_ms FROM worker_states WHERE name = :name
