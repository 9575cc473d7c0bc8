-- queue_gather: the job :id depends on each unfinished job it spawned (an
-- edge of orq_deps, which releases it when they finish: orq_jobs_children,
-- migration 011).
INSERT INTO orq_deps (parent, child)
SELECT s.child, :id
FROM orq_spawned AS s JOIN orq_jobs AS c ON c.id = s.child
WHERE s.parent = :id AND (c.state = 'waiting' OR c.state = 'ready' OR c.state = 'running')
ON CONFLICT DO NOTHING
