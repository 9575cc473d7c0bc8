-- queue_worker_register: a worker announces itself (again, after a restart
-- under the same name: its counters and death are reset).
INSERT INTO orq_workers (name, host, pid, queues, capabilities, concurrency, info, heartbeat_ms,
                         started_at, heartbeat_at)
VALUES (:name, :host, :pid, :queues, :capabilities, :concurrency, :info, :heartbeat_ms, :now, :now)
ON CONFLICT (name) DO UPDATE SET
  host = excluded.host, pid = excluded.pid, queues = excluded.queues,
  capabilities = excluded.capabilities, concurrency = excluded.concurrency, info = excluded.info,
  heartbeat_ms = excluded.heartbeat_ms, started_at = excluded.started_at,
  heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, dead = 0, jobs_done = 0, jobs_failed = 0
