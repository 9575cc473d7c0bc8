-- Retries with backoff, dead letters, leases that expire, cancel, retry,
-- release, extend, pause and purge, on a fixed clock. One queue per story.
.mode box
SELECT orq_clock(1000);

-- A lease that runs out: the next claim counts the lost attempt, and the
-- old holder's token is stale. Losing the last attempt makes the job dead.
SELECT queue_enqueue('expire', '{"file":"a.png"}', '{"max_attempts":2,"lease":10}') AS id;
SELECT id, attempt, token, lease_until FROM queue_claim('w1', 1, 'expire');
SELECT orq_clock(1010);
SELECT id, attempt, token, lease_until FROM queue_claim('w2', 1, 'expire');
SELECT queue_complete(1, 1048577) AS old_token, queue_extend(1, 1048577, 60) AS old_extend;
SELECT orq_clock(1020);
SELECT count(*) AS claimed FROM queue_claim('w3', 1, 'expire');
SELECT id, state, attempts, error FROM queue_jobs WHERE id = 1;

-- Failures back off (5 s, then 10 s: no jitter here) until attempts run out.
SELECT queue_enqueue('retry', '{"file":"b.png"}', '{"max_attempts":3,"backoff":{"base":5,"jitter":false}}') AS id;
SELECT id, attempt, token FROM queue_claim('w1', 1, 'retry');
SELECT queue_fail(2, 2097153, 'timeout') AS state;
SELECT id, state, run_at, error FROM queue_jobs WHERE id = 2;
SELECT count(*) AS claimable_now FROM queue_claim('w1', 1, 'retry');
SELECT orq_clock(1025);
SELECT id, attempt, token FROM queue_claim('w1', 1, 'retry');
SELECT queue_fail(2, 2097154, 'timeout again') AS state;
SELECT run_at FROM queue_jobs WHERE id = 2;
SELECT orq_clock(1035);
SELECT id, attempt, token FROM queue_claim('w1', 1, 'retry');
SELECT queue_fail(2, 2097155, 'gave up') AS state;
SELECT queue_retry(2) AS retried;
SELECT id, state, attempts, error FROM queue_jobs WHERE id = 2;

-- A heartbeat extends a lease; a release gives the job back uncounted.
SELECT queue_enqueue('long', '{"file":"c.mov"}') AS id;
SELECT id, attempt, lease_until FROM queue_claim('w1', 1, 'long');
SELECT queue_extend(3, 3145729, 120) AS lease_until;
SELECT queue_release(3, 3145729) AS released;
SELECT id, state, attempts FROM queue_jobs WHERE id = 3;

-- Cancel before it is due; a paused queue is skipped by claims.
SELECT queue_enqueue('later', '{}', '{"delay":60}') AS id;
SELECT queue_cancel(4) AS cancelled, queue_cancel(4) AS again;
SELECT queue_pause('long') AS paused;
SELECT count(*) AS claimed_while_paused FROM queue_claim('w3', 5, 'long');
SELECT queue_resume('long') AS resumed;
SELECT id, attempt FROM queue_claim('w3', 5, 'long');
SELECT * FROM queue_stats;

-- Purge deletes what finished long enough ago, except the newest job (4):
-- ids are never handed out twice.
SELECT queue_complete(3) AS completed;
SELECT orq_clock(2000);
SELECT queue_purge(NULL, 3600) AS purged_old, queue_purge(NULL, 965) AS purged;
SELECT id, queue, state FROM queue_jobs;
