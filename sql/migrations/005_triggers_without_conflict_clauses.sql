-- orq schema v5: the orq_jobs_new_queue trigger without a conflict clause.
-- The worker's statements run as OR FAIL (see ext/src/sql.rs), and an outer
-- conflict clause overrides a trigger's own: its OR IGNORE would have become
-- OR FAIL and refused every job of a queue after the first.
DROP TRIGGER orq_jobs_new_queue;
CREATE TRIGGER orq_jobs_new_queue AFTER INSERT ON orq_jobs
BEGIN
  INSERT INTO orq_queues (name, created_at) SELECT NEW.queue, NEW.created_at
  WHERE NOT EXISTS (SELECT 1 FROM orq_queues WHERE name = NEW.queue);
END;
