-- queue_group_configure: a group of :queue without limits of its own (all
-- NULL, or :all true: the settings were null) goes back to its queue's
-- defaults; its row goes.
DELETE FROM orq_groups
WHERE queue = :queue AND grp = :grp
  AND (:all OR (max_running IS NULL AND rate_limit IS NULL))
