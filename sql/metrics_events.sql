-- queue_metrics' counters, rates and histograms: the recorded events of
-- :queue (NULL: every queue), oldest first, read once (metrics.rs folds
-- them). orq_events has no index by queue or time on purpose (every job
-- change would pay for it), so this reads the whole trail: its cost grows
-- with the events kept, which queue_purge bounds. A job born cancelled (its
-- parent had failed) is told apart here, and so is a failed attempt from a
-- lost lease (the rule of failed_attempt.sql, spliced in). Only an enqueued
-- job's detail is needed: its due time.
SELECT queue,
       iif(type = 'enqueued' AND to_state = 'cancelled', 'enqueued_cancelled', type) AS type,
       at, job,
       iif(type = 'enqueued', detail, NULL) AS detail,
       {failed_attempt} AS failed
FROM orq_events
WHERE queue = coalesce(:queue, queue)
ORDER BY seq
