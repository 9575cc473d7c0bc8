-- A purge that deleted nothing leaves no marker; nor does a slice of a
-- purge whose next slice's marker stands for it too (called with :count 0).
DELETE FROM orq_events_stored WHERE seq = :seq AND :count = 0
