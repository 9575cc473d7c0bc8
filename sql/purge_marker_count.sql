-- After a purge: how many jobs the marker stands for (none: no marker).
UPDATE orq_events_stored SET detail = json_object('jobs', :count, 'finished_before', :cutoff / 1000.0)
WHERE seq = :seq AND :count > 0
