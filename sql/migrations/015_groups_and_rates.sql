-- orq schema v15: groups, limits per group, rate limits and fair shares
-- (issue 17; the design and its proofs are in benches/FLOW-DESIGN.md).

-- A job's group (the enqueue option "group": a tenant, a customer, an
-- order), and its lane: its turn among the groups of its queue, fixed at
-- enqueue (start-time fair queueing, sql/lane.sql). NULL lane: the job's
-- run_at, which is what a job without a group, or one that was scheduled
-- again (a retry, a release), sorts by.
ALTER TABLE orq_jobs ADD COLUMN grp TEXT;
ALTER TABLE orq_jobs ADD COLUMN lane INTEGER;

-- Affinity (the enqueue option "same_worker_as"): the job goes to the
-- worker that ran (or runs) job affinity_job, until affinity_until; after
-- that, or once that worker stopped, to any worker (routable.sql).
ALTER TABLE orq_jobs ADD COLUMN affinity_job INTEGER;
ALTER TABLE orq_jobs ADD COLUMN affinity_until INTEGER;

-- A follow-up run (the enqueue option "follow_up"): enqueued with a key
-- whose job is running, it waits for that job and holds the key here
-- (the unique index of live keys admits one job per key); follow_find.sql
-- finds a key's jobs in both columns.
ALTER TABLE orq_jobs ADD COLUMN follow_key TEXT;
CREATE INDEX orq_jobs_follow ON orq_jobs (queue, follow_key) WHERE follow_key IS NOT NULL;

-- The claim walks the ready jobs in (priority, turn, run_at) order, where
-- a job's turn is coalesce(lane, run_at): round robin among the groups
-- falls out of the order, priority still wins over it, and a queue without
-- groups keeps exactly the order of v1 (priority, then run_at). run_at is
-- in the index so the claim's due check reads no row. It replaces
-- orq_jobs_ready (v1), which migration 016 drops.
CREATE INDEX orq_jobs_turns ON orq_jobs (queue, priority DESC, coalesce(lane, run_at), run_at)
  WHERE state = 'ready';
-- A group's running jobs (the count its limit is checked against), and its
-- jobs by id (the newest one's turn sets the next job's, lane.sql): each
-- one seek. Neither holds the state of every job: the second is written
-- once per job, and the first once when a job is claimed and once when it
-- ends, where one index over (queue, grp, state) would be written at every
-- change of state (a delete and an insert). Partial: jobs without a group
-- pay nothing.
CREATE INDEX orq_jobs_group_running ON orq_jobs (queue, grp) WHERE state = 'running' AND grp IS NOT NULL;
CREATE INDEX orq_jobs_group ON orq_jobs (queue, grp) WHERE grp IS NOT NULL;

-- The limits of a queue for each of its groups (NULL: none): how many of a
-- group's jobs run at once, and at most group_rate_limit claims of a group
-- in any group_rate_ms. rate_limit / rate_ms: the same for the whole queue.
ALTER TABLE orq_queues ADD COLUMN group_max_running INTEGER;
ALTER TABLE orq_queues ADD COLUMN rate_limit INTEGER;
ALTER TABLE orq_queues ADD COLUMN rate_ms INTEGER;
ALTER TABLE orq_queues ADD COLUMN group_rate_limit INTEGER;
ALTER TABLE orq_queues ADD COLUMN group_rate_ms INTEGER;

-- How many groups of the queue have limits of their own (orq_groups), and
-- how many of those a rate: kept by queue_group_configure (group_count.sql)
-- so that a claim learns which limits are in force from the queue's row
-- alone (flow_limits.sql).
ALTER TABLE orq_queues ADD COLUMN groups_limited INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orq_queues ADD COLUMN groups_rated INTEGER NOT NULL DEFAULT 0;

-- One group's own limits, over its queue's defaults (queue_group_configure).
CREATE TABLE orq_groups (
  queue       TEXT NOT NULL,
  grp         TEXT NOT NULL,
  max_running INTEGER,
  rate_limit  INTEGER,
  rate_ms     INTEGER,
  PRIMARY KEY (queue, grp)
) WITHOUT ROWID;

-- The sliding log of the rate limits: one row per claim of a rate-limited
-- queue (grp = '') or group, kept until it leaves its window (`until` =
-- the claim's time + the period). A claim may take as many jobs as the
-- limit less the rows whose window is still open. Not a token bucket: a
-- bucket refilled at a period's start admits twice its limit within one
-- period; the log admits at most the limit in every window. Rows of a
-- window that has closed are deleted with the next claim of that queue or
-- group (the trigger), so the log holds at most `limit` rows each.
CREATE TABLE orq_claim_log (
  queue TEXT NOT NULL,
  grp   TEXT NOT NULL,
  at    INTEGER NOT NULL,
  until INTEGER NOT NULL
);
CREATE INDEX orq_claim_log_window ON orq_claim_log (queue, grp, until);
CREATE TRIGGER orq_claim_log_closed AFTER INSERT ON orq_claim_log
BEGIN
  DELETE FROM orq_claim_log WHERE queue = NEW.queue AND grp = NEW.grp AND until <= NEW.at;
END;
