-- queue_group_configure: the limits of one group of :queue over its
-- queue's defaults (NULL: the default), each changed only where its
-- :*_given is true. A group left with no limit of its own has no row
-- (group_forget.sql), so none is made for settings that are all null.
-- Changes nothing when the settings are its own already.
INSERT INTO orq_groups (queue, grp, max_running, rate_limit, rate_ms)
SELECT :queue, :grp, :max_running, :rate_limit, :rate_ms
WHERE :max_running IS NOT NULL OR :rate_limit IS NOT NULL
   OR EXISTS (SELECT 1 FROM orq_groups WHERE queue = :queue AND grp = :grp)
ON CONFLICT (queue, grp) DO UPDATE
SET max_running = iif(:max_running_given, excluded.max_running, max_running),
    rate_limit = iif(:rate_given, excluded.rate_limit, rate_limit),
    rate_ms = iif(:rate_given, excluded.rate_ms, rate_ms)
WHERE max_running IS NOT iif(:max_running_given, excluded.max_running, max_running)
   OR rate_limit IS NOT iif(:rate_given, excluded.rate_limit, rate_limit)
   OR rate_ms IS NOT iif(:rate_given, excluded.rate_ms, rate_ms)
