-- queue_gather: how many of the jobs :id spawned are unfinished.
SELECT count(*)
FROM orq_spawned AS s JOIN orq_jobs AS c ON c.id = s.child
WHERE s.parent = :id AND (c.state = 'waiting' OR c.state = 'ready' OR c.state = 'running')
