-- The queues named in :queues (a JSON array), or every queue when it is
-- NULL, as rows of `value`. Spliced into claim.sql, claim_limited.sql and
-- wait_check.sql.
SELECT value FROM json_each(coalesce(:queues, (SELECT json_group_array(name) FROM orq_queues)))
