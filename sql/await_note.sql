-- queue_await: the signal the job :id awaits, until when (replacing what it
-- awaited before), written just after await_park.sql parked it; its
-- trigger records the job's 'awaiting' event.
INSERT OR REPLACE INTO orq_awaits (job, signal, until) VALUES (:id, :signal, :until)
