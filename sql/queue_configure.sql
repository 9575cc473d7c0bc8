-- queue_configure: changes the settings given of :queue, whose row exists
-- (queue_row.sql): whether its jobs record events (:events NULL: as it
-- is), how long it keeps finished jobs per state (retention, ms; NULL:
-- forever) and how many of its jobs may run at once (max_running; NULL: no
-- limit), each of these only where its :*_given is true. Changes the row
-- only if a setting differs.
UPDATE orq_queues
SET events = coalesce(:events, events),
    retention_done_ms = iif(:done_given, :done_ms, retention_done_ms),
    retention_dead_ms = iif(:dead_given, :dead_ms, retention_dead_ms),
    retention_cancelled_ms = iif(:cancelled_given, :cancelled_ms, retention_cancelled_ms),
    max_running = iif(:max_running_given, :max_running, max_running)
WHERE name = :queue
  AND (events IS NOT coalesce(:events, events)
       OR retention_done_ms IS NOT iif(:done_given, :done_ms, retention_done_ms)
       OR retention_dead_ms IS NOT iif(:dead_given, :dead_ms, retention_dead_ms)
       OR retention_cancelled_ms IS NOT iif(:cancelled_given, :cancelled_ms, retention_cancelled_ms)
       OR max_running IS NOT iif(:max_running_given, :max_running, max_running))
