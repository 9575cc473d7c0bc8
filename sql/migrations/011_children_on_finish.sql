-- orq schema v11: the children's trigger fires only where a job finishes or
-- stops being finished, not on every claim.
--
-- An AFTER UPDATE OF trigger is left out of every UPDATE whose SET list does
-- not name its column, and SQLite runs a trigger that is not left out as a
-- subprogram for every row, WHEN included: watching `state`, it ran for
-- every claim and every completion, and cost a claim + completion 45k of
-- its 413k instructions although its WHEN almost never passes
-- (benches/callgrind.py). Every statement that moves a job into done, dead
-- or cancelled sets finished_at, and every one that moves it out clears it
-- (a test in ext/src/sql.rs holds them to it); claims, extensions and
-- releases name neither. The body is 007's.
DROP TRIGGER orq_jobs_children;
CREATE TRIGGER orq_jobs_children AFTER UPDATE OF finished_at ON orq_jobs
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
