-- queue_await: the signal the job :id awaits, until when (replacing what it
-- awaited before), written just before await_park.sql parks it.
INSERT OR REPLACE INTO orq_awaits (job, signal, until) VALUES (:id, :signal, :until)
