-- Durable execution: steps recorded once and read back by the next lease,
-- a failed step tried again on its own terms, a sleep, a signal, children,
-- progress; a stale token changes nothing; bad input is an error that names
-- the function.
.mode box
SELECT orq_clock(1000);
SELECT queue_enqueue('orders', '{"order": 1}', '{"lease": 30}') AS id;
SELECT id, token FROM queue_claim('w1', 1, 'orders');
SELECT queue_step(1, 1048577, 'charge') AS before;
SELECT queue_step_done(1, 1048577, 'charge', '{"paid": 5}') AS recorded;
SELECT queue_step_fail(1, 1048577, 'ship', 'carrier down', '{"attempts": 2, "retry_in": 10}') AS ship;
SELECT state, attempts, run_at FROM queue_jobs WHERE id = 1;
SELECT queue_step_done(1, 1048577, 'ship', '{}') AS stale;
SELECT orq_clock(1010);
SELECT id, token, attempt FROM queue_claim('w2', 1, 'orders');
SELECT queue_step(1, 1048578, 'charge') AS charge;
SELECT queue_step_fail(1, 1048578, 'ship', 'carrier still down', '{"attempts": 2, "retry_in": 10}') AS ship;
SELECT queue_step_done(1, 1048578, 'ship', '"label-1"') AS recorded;
SELECT queue_progress(1, 1048578, '{"done": 2, "total": 3}') AS progress;
SELECT queue_await(1, 1048578, 'approved-1', 60) AS parked;
SELECT queue_signal('approved-1', '{"by": "ann"}') AS woken;
SELECT id, token FROM queue_claim('w2', 1, 'orders');
SELECT queue_step(1, 1048579, 'signal:approved-1') AS approval;
SELECT queue_spawn(1, 1048579, 'labels', '{"n": 1}') AS child;
SELECT queue_gather(1, 1048579) AS gathering;
SELECT id, state, waiting_on, progress FROM queue_jobs ORDER BY id;
SELECT id, token FROM queue_claim('w3', 1, 'labels');
SELECT queue_complete(2, 2097153, '"printed"') AS done;
SELECT id, token FROM queue_claim('w2', 1, 'orders');
SELECT queue_children(1) AS children;
SELECT queue_sleep(1, 1048580, 3600) AS asleep;
SELECT id, token FROM queue_claim('w2', 1, 'orders');
SELECT orq_clock(4610);
SELECT id, token FROM queue_claim('w2', 1, 'orders');
SELECT queue_complete(1, 1048581, '{"shipped": true}') AS done;
SELECT queue_steps(1) AS steps;
SELECT seq, type, detail FROM queue_history(1);
SELECT queue_lease_status(1, 1048580) ->> 'reason' AS reason;
-- A stale token, and bad input.
SELECT queue_step_done(1, 1048577, 'late', '1') AS stale, queue_sleep(1, 1048577, 5) AS sleep,
       queue_await(1, 1048577, 's', 5) AS await, queue_progress(1, 1048577, '1') AS progress,
       queue_step_fail(1, 1048577, 'x', 'e') AS fail, queue_gather(1, 1048577) AS gather;
SELECT queue_spawn(1, 1048577, 'labels', '{}');
SELECT queue_step(1, 1048581, '');
SELECT queue_step_done(1, 1048581, 'x', '{bad');
SELECT queue_step_fail(1, 1048581, 'x', 'e', '{"attempts": -1}');
SELECT queue_step_fail(1, 1048581, 'x', 'e', '{"backoff": {"base": 0}}');
SELECT queue_sleep(1, 1048581, -1);
SELECT queue_await(1, 1048581, 'x', 'soon');
SELECT queue_signal(NULL, '{}');
SELECT queue_signal('x', '{bad');
SELECT queue_steps(99);
SELECT queue_children('one');
SELECT queue_progress(1, 1048581);
SELECT count(*) AS events FROM queue_history(1);
