-- queue_rates(seconds): jobs each queue finished in the last :window_ms
-- (index ranges of orq_jobs_finished), and the rate of completions.
SELECT q.name AS queue,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND (state = 'done' OR state = 'dead' OR state = 'cancelled')
          AND state = 'done' AND finished_at > :now - :window_ms) AS done,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND (state = 'done' OR state = 'dead' OR state = 'cancelled')
          AND state = 'dead' AND finished_at > :now - :window_ms) AS dead,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND (state = 'done' OR state = 'dead' OR state = 'cancelled')
          AND state = 'done' AND finished_at > :now - :window_ms) * 1000.0 / :window_ms AS done_per_second
FROM orq_queues AS q
ORDER BY q.name
