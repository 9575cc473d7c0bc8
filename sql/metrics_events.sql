-- queue_metrics' counters, rates and histograms: the recorded events of
-- :queue (NULL: every queue), oldest first, read once (metrics.rs folds
-- them). orq_events has no index by queue or time on purpose (every job
-- change would pay for it), so this reads the whole trail: its cost grows
-- with the events kept, which queue_purge bounds. A job born cancelled (its
-- parent had failed) is told apart here. Only two types' detail is needed:
-- an enqueued job's due time, and the error that tells a dead job's lost
-- lease from its failure.
SELECT queue,
       iif(type = 'enqueued' AND to_state = 'cancelled', 'enqueued_cancelled', type) AS type,
       at, job,
       iif(type = 'enqueued' OR type = 'dead', detail, NULL) AS detail
FROM orq_events
WHERE queue = coalesce(:queue, queue)
ORDER BY seq
