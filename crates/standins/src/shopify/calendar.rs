//! Dates without a time-zone database: civil-date arithmetic, ISO-8601 timestamps and the
//! offset rules of the shop time zones the stand-in supports.
//!
//! Shopify reports every timestamp in UTC (`2026-03-01T12:00:00Z`) and keeps the shop's
//! IANA zone in `Shop.ianaTimezone`; the generator uses the zone only to shape when orders
//! happen (local hours, weekdays, seasons). A handful of zones is enough for that, so their
//! rules are written here instead of pulling in a zone database.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

pub const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
pub fn weekday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// Appends `2026-03-01T12:00:00Z` for a Unix time.
pub fn push_timestamp(out: &mut Vec<u8>, unix: i64) {
    let days = unix.div_euclid(SECONDS_PER_DAY);
    let secs = unix.rem_euclid(SECONDS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let digits = |out: &mut Vec<u8>, v: i64, width: usize| {
        let mut buf = [b'0'; 8];
        let mut v = v;
        for slot in buf[..width].iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend_from_slice(&buf[..width]);
    };
    digits(out, y, 4);
    out.push(b'-');
    digits(out, i64::from(m), 2);
    out.push(b'-');
    digits(out, i64::from(d), 2);
    out.push(b'T');
    digits(out, secs / 3600, 2);
    out.push(b':');
    digits(out, secs / 60 % 60, 2);
    out.push(b':');
    digits(out, secs % 60, 2);
    out.push(b'Z');
}

/// `2026-03-01T12:00:00Z` for a Unix time.
pub fn format_timestamp(unix: i64) -> String {
    let mut out = Vec::with_capacity(20);
    push_timestamp(&mut out, unix);
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// No daylight saving time.
    Fixed,
    /// United States since 2007: from the second Sunday of March, 02:00 local standard
    /// time, to the first Sunday of November, 02:00 local daylight time.
    UnitedStates,
    /// European Union: from the last Sunday of March to the last Sunday of October,
    /// both at 01:00 UTC.
    EuropeanUnion,
}

/// A shop time zone: its IANA name and the rule giving its UTC offset at any instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShopTimeZone {
    name: String,
    standard_offset: i64,
    rule: Rule,
}

/// The zones the stand-in knows, with their standard offsets in seconds.
const ZONES: &[(&str, i64, Rule)] = &[
    ("UTC", 0, Rule::Fixed),
    ("Etc/UTC", 0, Rule::Fixed),
    ("America/New_York", -5 * 3600, Rule::UnitedStates),
    ("America/Chicago", -6 * 3600, Rule::UnitedStates),
    ("America/Denver", -7 * 3600, Rule::UnitedStates),
    ("America/Phoenix", -7 * 3600, Rule::Fixed),
    ("America/Los_Angeles", -8 * 3600, Rule::UnitedStates),
    ("America/Anchorage", -9 * 3600, Rule::UnitedStates),
    ("Pacific/Honolulu", -10 * 3600, Rule::Fixed),
    ("Europe/London", 0, Rule::EuropeanUnion),
    ("Europe/Dublin", 0, Rule::EuropeanUnion),
    ("Europe/Berlin", 3600, Rule::EuropeanUnion),
    ("Europe/Paris", 3600, Rule::EuropeanUnion),
    ("Europe/Amsterdam", 3600, Rule::EuropeanUnion),
    ("Europe/Madrid", 3600, Rule::EuropeanUnion),
    ("Europe/Rome", 3600, Rule::EuropeanUnion),
];

impl ShopTimeZone {
    pub fn parse(name: &str) -> Result<Self, String> {
        ZONES
            .iter()
            .find(|(zone, _, _)| *zone == name)
            .map(|&(zone, standard_offset, rule)| Self {
                name: zone.to_owned(),
                standard_offset,
                rule,
            })
            .ok_or_else(|| {
                let known: Vec<&str> = ZONES.iter().map(|(zone, _, _)| *zone).collect();
                format!("unknown time zone {name:?}; the stand-in knows {}", known.join(", "))
            })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seconds to add to a UTC instant to get local wall-clock time.
    pub fn offset_at(&self, utc: i64) -> i64 {
        let (year, _, _) = civil_from_days(utc.div_euclid(SECONDS_PER_DAY));
        let in_dst = match self.rule {
            Rule::Fixed => false,
            Rule::UnitedStates => {
                let second_sunday_march = nth_sunday(year, 3, 2);
                let first_sunday_november = nth_sunday(year, 11, 1);
                let starts = second_sunday_march * SECONDS_PER_DAY + 2 * 3600 - self.standard_offset;
                let ends = first_sunday_november * SECONDS_PER_DAY + 2 * 3600 - (self.standard_offset + 3600);
                (starts..ends).contains(&utc)
            }
            Rule::EuropeanUnion => {
                let starts = last_sunday(year, 3, 31) * SECONDS_PER_DAY + 3600;
                let ends = last_sunday(year, 10, 31) * SECONDS_PER_DAY + 3600;
                (starts..ends).contains(&utc)
            }
        };
        self.standard_offset + if in_dst { 3600 } else { 0 }
    }

    /// The UTC instant of a local wall-clock time (`local` in seconds since the epoch as if
    /// it were UTC). In the hour skipped or repeated by a clock change the earlier reading wins.
    pub fn local_to_utc(&self, local: i64) -> i64 {
        let guess = local - self.standard_offset;
        let utc = local - self.offset_at(guess);
        if utc + self.offset_at(utc) == local {
            utc
        } else {
            guess
        }
    }

    /// The UTC instant of local midnight starting `date`.
    pub fn midnight_utc(&self, date: NaiveDate) -> i64 {
        self.local_to_utc(date_days(date) * SECONDS_PER_DAY)
    }
}

fn nth_sunday(year: i64, month: u32, n: i64) -> i64 {
    let first = days_from_civil(year, month, 1);
    let to_sunday = i64::from((7 - weekday(first)) % 7);
    first + to_sunday + 7 * (n - 1)
}

fn last_sunday(year: i64, month: u32, last_day: u32) -> i64 {
    let last = days_from_civil(year, month, last_day);
    last - i64::from(weekday(last))
}

/// Days since the epoch of a `NaiveDate`.
pub fn date_days(date: NaiveDate) -> i64 {
    use chrono::Datelike;
    days_from_civil(i64::from(date.year()), date.month(), date.day())
}

/// Parses a timestamp as Shopify's search syntax accepts it: RFC 3339 with a zone
/// (`2026-12-01T00:00:00Z`, `…+01:00`), a local date-time without zone, or a date (both read
/// in the shop's time zone). Returns Unix seconds.
pub fn parse_search_time(value: &str, zone: &ShopTimeZone) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Some(zone.local_to_utc(t.and_utc().timestamp()));
        }
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(zone.local_to_utc(date.and_time(NaiveTime::MIN).and_utc().timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_and_format() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_513, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1_772_366_400), "2026-03-01T12:00:00Z");
        assert_eq!(weekday(days_from_civil(2026, 3, 1)), 0, "2026-03-01 is a Sunday");
    }

    #[test]
    fn new_york_switches_at_the_documented_instants() {
        let ny = ShopTimeZone::parse("America/New_York").expect("known zone");
        // 2026: DST from 2026-03-08 07:00 UTC to 2026-11-01 06:00 UTC.
        let starts = days_from_civil(2026, 3, 8) * SECONDS_PER_DAY + 7 * 3600;
        let ends = days_from_civil(2026, 11, 1) * SECONDS_PER_DAY + 6 * 3600;
        assert_eq!(ny.offset_at(starts - 1), -5 * 3600);
        assert_eq!(ny.offset_at(starts), -4 * 3600);
        assert_eq!(ny.offset_at(ends - 1), -4 * 3600);
        assert_eq!(ny.offset_at(ends), -5 * 3600);
        let jan = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
        assert_eq!(format_timestamp(ny.midnight_utc(jan)), "2026-01-01T05:00:00Z");
        let jul = NaiveDate::from_ymd_opt(2026, 7, 1).expect("date");
        assert_eq!(format_timestamp(ny.midnight_utc(jul)), "2026-07-01T04:00:00Z");
        let london = ShopTimeZone::parse("Europe/London").expect("known zone");
        assert_eq!(
            london.offset_at(days_from_civil(2026, 3, 29) * SECONDS_PER_DAY + 3600),
            3600
        );
        assert!(ShopTimeZone::parse("Mars/Olympus_Mons").is_err());
    }

    #[test]
    fn search_times_in_every_accepted_form() {
        let ny = ShopTimeZone::parse("America/New_York").expect("known zone");
        let z = parse_search_time("2026-12-01T00:00:00Z", &ny).expect("rfc3339");
        assert_eq!(format_timestamp(z), "2026-12-01T00:00:00Z");
        assert_eq!(parse_search_time("2026-12-01", &ny), Some(z + 5 * 3600));
        assert_eq!(parse_search_time("2026-12-01T00:00:00", &ny), Some(z + 5 * 3600));
        assert_eq!(parse_search_time("2026-12-01T01:00:00+01:00", &ny), Some(z));
        assert_eq!(parse_search_time("yesterday", &ny), None);
    }
}
