-- flow_limits.sql for a claim from the queue :queue (no row: it has no
-- limits).
{flow_limits}
WHERE q.name = :queue
