-- The state of one job: tells "no such job" apart from "not in a state this
-- operation applies to" after an update matched nothing.
SELECT state FROM orq_jobs WHERE id = :id
