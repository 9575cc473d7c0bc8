-- queue_parent_results: each parent's result, keyed by its workflow key
-- (or its id, for parents outside a workflow).
SELECT json_group_object(coalesce(p.workflow_key, CAST(p.id AS TEXT)), json(coalesce(p.result, 'null')))
FROM orq_deps AS d JOIN orq_jobs AS p ON p.id = d.parent
WHERE d.child = :id
