//! Schedules: 5-field cron expressions (minute hour day-of-month month
//! day-of-week, with `*`, lists, ranges, steps and names) and the macros
//! `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` and `@every 30s`,
//! evaluated in UTC or in an IANA time zone.
//!
//! Local times a daylight-saving change skips are not run that day; local
//! times it repeats run once, at their first occurrence.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

use crate::bounds::{parse_duration_ms, MAX_DURATION_TEXT, MAX_TIME_MS, MAX_TIME_TEXT};
use crate::error::{invalid, Result};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Cron {
    /// Bit sets of the allowed values of each field.
    Fields {
        minutes: u64,
        hours: u32,
        days: u32,
        months: u16,
        weekdays: u8,
        any_day: bool,
        any_weekday: bool,
    },
    /// `@every <duration>`: every `ms`, counted from the previous run.
    Every { ms: i64 },
}

/// The longest a search for the next run looks ahead (a 29 February that
/// must also be a Monday can be 28 years away).
const SEARCH_YEARS: i16 = 30;

impl Cron {
    pub fn parse(text: &str) -> Result<Cron> {
        let t = text.trim();
        let fields = match t {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ if t.starts_with("@every") => return Cron::every(t["@every".len()..].trim()),
            _ if t.starts_with('@') => {
                return Err(invalid(format!(
                    "unknown schedule '{t}' (use 5 cron fields, @hourly, @daily, @weekly, @monthly, @yearly or @every 30s)"
                )))
            }
            _ => t,
        };
        let parts: Vec<&str> = fields.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = parts[..] else {
            return Err(invalid(format!(
                "cron '{t}' must have 5 fields: minute hour day-of-month month day-of-week"
            )));
        };
        let weekdays = field(weekday, "day-of-week", 0, 7, &WEEKDAYS)?;
        Ok(Cron::Fields {
            minutes: field(minute, "minute", 0, 59, &[])?,
            hours: field(hour, "hour", 0, 23, &[])? as u32,
            days: field(day, "day-of-month", 1, 31, &[])? as u32,
            months: field(month, "month", 1, 12, &MONTHS)? as u16,
            // 7 is Sunday too.
            weekdays: ((weekdays | (weekdays >> 7)) & 0x7f) as u8,
            any_day: day == "*",
            any_weekday: weekday == "*",
        })
    }

    fn every(spec: &str) -> Result<Cron> {
        let ms = parse_duration_ms(spec).ok().filter(|ms| *ms >= 1000).ok_or_else(|| {
            invalid(format!(
                "@every needs a duration from 1s to {MAX_DURATION_TEXT} like 30s, 5m, 1h30m, got '{spec}'"
            ))
        })?;
        Ok(Cron::Every { ms })
    }

    /// The first run strictly after `after_ms` (unix ms), for a schedule
    /// whose previous run was due at `prev_ms`; both are bounded times (see
    /// bounds.rs), and so is the answer.
    pub fn next_after(&self, after_ms: i64, prev_ms: Option<i64>, tz: &TimeZone) -> Result<i64> {
        let next = match self {
            Cron::Every { ms } => {
                // Keep the phase of the previous run; skip missed periods.
                let start = prev_ms.unwrap_or(after_ms);
                let periods = (after_ms - start).div_euclid(*ms) + 1;
                start + periods.max(1) * ms
            }
            Cron::Fields { .. } => self.next_field_match(after_ms, tz)?,
        };
        if next > MAX_TIME_MS {
            return Err(no_run_in_time());
        }
        Ok(next)
    }

    fn next_field_match(&self, after_ms: i64, tz: &TimeZone) -> Result<i64> {
        let Cron::Fields { minutes, hours, .. } = *self else { unreachable!() };
        // The date library's range ends a little before the latest time.
        let after = Timestamp::from_millisecond(after_ms).map_err(|_| no_run_in_time())?;
        let local = after.to_zoned_datetime(tz.clone());
        let mut day = local.date();
        let last = day.saturating_add(jiff::Span::new().years(SEARCH_YEARS));
        while day <= last {
            if self.day_matches(day) {
                for hour in (0..24).filter(|h| hours & (1 << h) != 0) {
                    for minute in (0..60).filter(|m| minutes & (1 << m) != 0) {
                        let civil = DateTime::new(day.year(), day.month(), day.day(), hour, minute, 0, 0)
                            .map_err(|e| invalid(format!("bad date: {e}")))?;
                        if let Some(ms) = instant(civil, tz) {
                            if ms > after_ms {
                                return Ok(ms);
                            }
                        }
                    }
                }
            }
            day = day.tomorrow().map_err(|_| no_run_in_time())?;
        }
        Err(invalid("this schedule never runs (no date matches within 30 years)"))
    }

    fn day_matches(&self, date: Date) -> bool {
        let Cron::Fields { days, months, weekdays, any_day, any_weekday, .. } = *self else { return false };
        if months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = days & (1 << date.day()) != 0;
        let dow = weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        // Vixie cron: when both are restricted, either one may match.
        match (any_day, any_weekday) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }
}

fn no_run_in_time() -> crate::error::Error {
    invalid(format!("no run before {MAX_TIME_TEXT}, the latest time orq accepts"))
}

/// The instant of a local time: None when a daylight-saving gap skips it;
/// the first occurrence when a fold repeats it.
fn instant(civil: DateTime, tz: &TimeZone) -> Option<i64> {
    let ambiguous = tz.to_ambiguous_timestamp(civil);
    if matches!(ambiguous.offset(), AmbiguousOffset::Gap { .. }) {
        return None;
    }
    Some(ambiguous.earlier().ok()?.as_millisecond())
}

const MONTHS: [&str; 13] =
    ["", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One cron field as a bit set of allowed values.
fn field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u64> {
    let bad = || invalid(format!("bad {what} field '{text}' (values {min}-{max}; * , - / allowed)"));
    let value = |s: &str| -> Result<u32> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| !n.is_empty() && *n == lower) {
            return Ok(i as u32);
        }
        s.parse::<u32>().ok().filter(|v| (min..=max).contains(v)).ok_or_else(bad)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).ok_or_else(bad)?),
            None => (part, 1),
        };
        let (lo, hi) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (value(a)?, value(b)?),
                // "5/15" means from 5 to the end, every 15.
                None if step > 1 => (value(r)?, max),
                None => (value(r)?, value(r)?),
            },
        };
        if lo > hi {
            return Err(bad());
        }
        for v in (lo..=hi).step_by(step as usize) {
            bits |= 1 << v;
        }
    }
    Ok(bits)
}

/// A time zone by IANA name, or UTC.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone> {
    match name {
        None | Some("UTC") => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n)
            .map_err(|_| invalid(format!("unknown time zone '{n}' (use an IANA name like Europe/Berlin)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn next(cron: &str, after: &str, tz: &str) -> String {
        let tz = time_zone(Some(tz)).unwrap();
        let n = Cron::parse(cron).unwrap().next_after(ms(after), None, &tz).unwrap();
        Timestamp::from_millisecond(n).unwrap().to_string()
    }

    #[test]
    fn fields_and_macros() {
        assert_eq!(next("*/15 * * * *", "2026-11-26T10:07:00Z", "UTC"), "2026-11-26T10:15:00Z");
        assert_eq!(next("0 9 * * mon-fri", "2026-11-27T09:00:00Z", "UTC"), "2026-11-30T09:00:00Z");
        assert_eq!(next("30 2 1 * *", "2026-11-26T00:00:00Z", "UTC"), "2026-12-01T02:30:00Z");
        assert_eq!(next("@hourly", "2026-11-26T10:00:00Z", "UTC"), "2026-11-26T11:00:00Z");
        assert_eq!(next("@yearly", "2026-11-26T10:00:00Z", "UTC"), "2027-01-01T00:00:00Z");
        assert_eq!(next("0 0 29 feb *", "2026-03-01T00:00:00Z", "UTC"), "2028-02-29T00:00:00Z");
        // Both day fields restricted: either matches (the 13th, or a Friday).
        assert_eq!(next("0 0 13 * fri", "2026-11-26T00:00:00Z", "UTC"), "2026-11-27T00:00:00Z");
        assert_eq!(next("0 0 * * 7", "2026-11-26T00:00:00Z", "UTC"), "2026-11-29T00:00:00Z");
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        assert_eq!(next("0 9 * * *", "2026-11-26T10:00:00Z", "Europe/Berlin"), "2026-11-27T08:00:00Z");
        // 02:30 does not exist on 2027-03-28 in Berlin: that day is skipped.
        assert_eq!(next("30 2 * * *", "2027-03-27T12:00:00Z", "Europe/Berlin"), "2027-03-29T00:30:00Z");
        // 02:30 happens twice on 2026-10-25: once, at the first.
        assert_eq!(next("30 2 * * *", "2026-10-24T12:00:00Z", "Europe/Berlin"), "2026-10-25T00:30:00Z");
        assert_eq!(next("30 2 * * *", "2026-10-25T00:30:00Z", "Europe/Berlin"), "2026-10-26T01:30:00Z");
    }

    #[test]
    fn every_keeps_its_phase_and_skips_missed_periods() {
        let c = Cron::parse("@every 1m30s").unwrap();
        let tz = TimeZone::UTC;
        assert_eq!(c.next_after(1_000, Some(1_000), &tz).unwrap(), 91_000);
        // Down for ten periods: the next run is the next on the grid, once.
        assert_eq!(c.next_after(950_000, Some(1_000), &tz).unwrap(), 991_000);
    }

    #[test]
    fn rejects_bad_schedules() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "* * * jan-foo *",
            "@often",
            "@every 500ms",
            "@every x",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
        assert!(time_zone(Some("Mars/Olympus")).is_err());
        assert!(
            Cron::parse("0 0 31 2 *").unwrap().next_after(0, None, &TimeZone::UTC).is_err(),
            "31 February never comes"
        );
    }
}
