-- orq inside the caller's transactions, and the audit trail it keeps.
.mode box
SELECT orq_clock(5000);
SELECT queue_enqueue('t', '{"n":1}') AS id;

-- A claim inside a transaction is undone with it.
BEGIN IMMEDIATE;
SELECT id, attempt FROM queue_claim('w', 1);
ROLLBACK;
SELECT id, state, attempts FROM queue_jobs;

-- Outbox: the job exists exactly when the business row does.
CREATE TABLE orders(id INTEGER PRIMARY KEY, job INTEGER);
BEGIN IMMEDIATE;
INSERT INTO orders(id, job) VALUES (100, queue_enqueue('t', json_object('order', 100)));
COMMIT;
BEGIN IMMEDIATE;
INSERT INTO orders(id, job) VALUES (101, queue_enqueue('t', json_object('order', 101)));
ROLLBACK;
SELECT o.id, o.job, j.payload FROM orders AS o JOIN queue_jobs AS j ON j.id = o.job;

-- Batch enqueue is plain SQL.
BEGIN IMMEDIATE;
SELECT count(queue_enqueue('bulk', value)) AS enqueued FROM json_each('[{"n":1},{"n":2},{"n":3}]');
COMMIT;

-- Every state change is an event, written in the same statement.
SELECT id, token FROM queue_claim('w', 2, 't');
SELECT queue_complete(1, 1048577) AS done;
SELECT seq, job, type, from_state, to_state, worker, attempt, detail FROM orq_events ORDER BY seq;
