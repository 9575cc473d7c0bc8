-- A purge that deleted nothing leaves no marker.
DELETE FROM orq_events WHERE seq = :seq AND :count = 0
