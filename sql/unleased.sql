-- A job leaving its worker unfinished (release.sql, sleep.sql,
-- await_park.sql, gather_park.sql): the attempt it was on is not counted,
-- its turn is its new run_at (migration 015), its lease ends. Not a
-- statement of its own: sql.rs splices it into their SET lists.
attempts    = attempts - 1,
    lane        = NULL,
    lease_until = NULL,
    updated_at  = :now
