-- Workers that missed three heartbeats and have not stopped.
SELECT name FROM orq_workers
WHERE stopped_at IS NULL AND heartbeat_at + 3 * heartbeat_ms < :now
