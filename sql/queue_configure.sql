-- queue_configure: changes the settings given of :queue, whose row exists
-- (queue_row.sql): whether its jobs record events (:events NULL: as it
-- is), how long it keeps finished jobs per state (retention, ms; NULL:
-- forever), how many of its jobs may run at once (max_running) and of each
-- of its groups (group_max_running), and its rates (at most rate_limit
-- claims in any rate_ms; group_rate_*: of each group), each of these only
-- where its :*_given is true (NULL: no limit). Changes the row only if a
-- setting differs.
UPDATE orq_queues
SET events = coalesce(:events, events),
    retention_done_ms = iif(:done_given, :done_ms, retention_done_ms),
    retention_dead_ms = iif(:dead_given, :dead_ms, retention_dead_ms),
    retention_cancelled_ms = iif(:cancelled_given, :cancelled_ms, retention_cancelled_ms),
    max_running = iif(:max_running_given, :max_running, max_running),
    group_max_running = iif(:group_max_running_given, :group_max_running, group_max_running),
    rate_limit = iif(:rate_given, :rate_limit, rate_limit),
    rate_ms = iif(:rate_given, :rate_ms, rate_ms),
    group_rate_limit = iif(:group_rate_given, :group_rate_limit, group_rate_limit),
    group_rate_ms = iif(:group_rate_given, :group_rate_ms, group_rate_ms)
WHERE name = :queue
  AND (events IS NOT coalesce(:events, events)
       OR retention_done_ms IS NOT iif(:done_given, :done_ms, retention_done_ms)
       OR retention_dead_ms IS NOT iif(:dead_given, :dead_ms, retention_dead_ms)
       OR retention_cancelled_ms IS NOT iif(:cancelled_given, :cancelled_ms, retention_cancelled_ms)
       OR max_running IS NOT iif(:max_running_given, :max_running, max_running)
       OR group_max_running IS NOT iif(:group_max_running_given, :group_max_running, group_max_running)
       OR rate_limit IS NOT iif(:rate_given, :rate_limit, rate_limit)
       OR rate_ms IS NOT iif(:rate_given, :rate_ms, rate_ms)
       OR group_rate_limit IS NOT iif(:group_rate_given, :group_rate_limit, group_rate_limit)
       OR group_rate_ms IS NOT iif(:group_rate_given, :group_rate_ms, group_rate_ms))
