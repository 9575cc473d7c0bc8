-- orq schema v11: the children's trigger runs only when a parent finishes,
-- or a finished parent is brought back; no longer for every claim and every
-- completion.
--
-- An AFTER UPDATE OF trigger is left out of every UPDATE whose SET list does
-- not name its column, and a trigger that is not left out runs as a
-- subprogram for every row, WHEN included. Watching `state`, this one ran
-- for every claim and every completion: 45k of a claim + completion's 413k
-- instructions (benches/callgrind.py), and 10% of its rate, although its
-- WHEN almost never passes. It now watches `children`, the number of jobs
-- that depend on the job (kept by orq_deps_children below). The statements
-- that finish a job or bring a finished one back name it in their SET
-- lists (`children = children`), except the completions of jobs without
-- children, which say `children = 0` in their WHERE instead (sql.rs makes
-- both forms of each completion from one file, ops.rs runs the second only
-- when the first did not take every job). A test in ext/src/sql.rs holds
-- sql/ to that. The body is 007's.
ALTER TABLE orq_jobs ADD COLUMN children INTEGER NOT NULL DEFAULT 0;
UPDATE orq_jobs SET children = (SELECT count(*) FROM orq_deps WHERE parent = orq_jobs.id)
WHERE id IN (SELECT parent FROM orq_deps);

-- An edge counts its parent's children (edges are deleted only with their
-- jobs, so the count never has to go down; a count too high only costs the
-- parent the slower completion).
CREATE TRIGGER orq_deps_children AFTER INSERT ON orq_deps
BEGIN
  UPDATE orq_jobs SET children = children + 1 WHERE id = NEW.parent;
END;

DROP TRIGGER orq_jobs_children;
CREATE TRIGGER orq_jobs_children AFTER UPDATE OF children ON orq_jobs
WHEN ((NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled')
      AND (OLD.state <> 'done' AND OLD.state <> 'dead' AND OLD.state <> 'cancelled')
   OR (OLD.state = 'dead' OR OLD.state = 'cancelled')
      AND (NEW.state <> 'done' AND NEW.state <> 'dead' AND NEW.state <> 'cancelled'))
 AND EXISTS (SELECT 1 FROM orq_deps WHERE parent = NEW.id)
BEGIN
  UPDATE orq_jobs SET waiting_on = waiting_on - 1
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting'
    AND (NEW.state = 'done' OR on_parent_failure = 'run')
    AND (NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled');
  UPDATE orq_jobs
  SET state = 'ready', event = 'unblocked',
      run_at = iif(run_at > NEW.updated_at, run_at, NEW.updated_at), updated_at = NEW.updated_at
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting' AND waiting_on = 0
    AND (NEW.state = 'done' OR NEW.state = 'dead' OR NEW.state = 'cancelled');
  UPDATE orq_jobs SET waiting_on = waiting_on + 1
  WHERE id IN (SELECT child FROM orq_deps WHERE parent = NEW.id)
    AND +state = 'waiting' AND on_parent_failure = 'run'
    AND (OLD.state = 'dead' OR OLD.state = 'cancelled')
    AND (NEW.state <> 'done' AND NEW.state <> 'dead' AND NEW.state <> 'cancelled');
END;
