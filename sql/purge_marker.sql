-- Before a purge deletes events: a 'purged' event, numbered while the
-- events to delete still exist, so no seq is ever handed out twice (the
-- next seq is above every one so far: orq_next_seq).
-- purge_marker_count.sql then fills in what was purged.
INSERT INTO orq_events_stored (seq, at, job, queue, type, from_state, to_state, attempt)
VALUES ((SELECT seq FROM orq_next_seq), :now, 0, coalesce(:queue, '*'), 'purged', NULL, 'purged', 0)
