-- Before a purge deletes events: a 'purged' event, numbered while the
-- events to delete still exist, so no seq is ever handed out twice (seq is
-- max + 1). purge_marker_count.sql then fills in what was purged.
INSERT INTO orq_events (at, job, queue, type, from_state, to_state, attempt)
VALUES (:now, 0, coalesce(:queue, '*'), 'purged', NULL, 'purged', 0)
