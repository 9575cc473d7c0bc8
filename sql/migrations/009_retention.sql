-- orq schema v9: retention. Each queue keeps its finished jobs (and their
-- events and runs, which go with them) for a time after they finished, per
-- final state, in ms; NULL keeps them forever. Writers delete what has
-- outlived it in small slices (ext/src/maintenance.rs, sql/purge.sql), so a
-- database that runs jobs for years does not grow without end.
--
-- The defaults, which every queue has until queue_configure changes them
-- (queues that exist before this upgrade too): done and cancelled jobs 7
-- days, long enough to look into last week's runs and for key_scope "all"
-- to cover a batch that is resumed within a week; dead jobs 30 days, since
-- they wait for someone to read their error and retry them, and a month
-- outlasts a holiday. The finished_at index (orq_jobs_finished, v1) finds
-- the expired jobs of each queue and state: no new index. The CHECKs
-- refuse text and negative numbers written by hand (text sorts above every
-- number; NULL passes a CHECK), without a function call, which would give
-- the enqueue that creates a queue a statement journal (see migration 007).
ALTER TABLE orq_queues ADD COLUMN retention_done_ms INTEGER DEFAULT 604800000
  CHECK (retention_done_ms BETWEEN 0 AND 9223372036854775807);
ALTER TABLE orq_queues ADD COLUMN retention_dead_ms INTEGER DEFAULT 2592000000
  CHECK (retention_dead_ms BETWEEN 0 AND 9223372036854775807);
ALTER TABLE orq_queues ADD COLUMN retention_cancelled_ms INTEGER DEFAULT 604800000
  CHECK (retention_cancelled_ms BETWEEN 0 AND 9223372036854775807);
