-- A parent ended dead or cancelled: its waiting children that do not run
-- anyway are cancelled with the reason. Called for each newly cancelled
-- job in turn (deps.rs), which reaches every descendant. (+state: look the
-- children up by id; never scan every waiting job.)
UPDATE orq_jobs
SET state       = 'cancelled',
    event       = 'cancelled',
    error       = 'parent ' || :parent || ' ended ' || :parent_state,
    cause       = 'parent_ended',
    finished_at = :now,
    children    = children,  -- runs orq_jobs_children (migration 011)
    updated_at  = :now
WHERE id IN (SELECT child FROM orq_deps WHERE parent = :parent)
  AND +state = 'waiting' AND on_parent_failure IS NOT 'run'
RETURNING id
