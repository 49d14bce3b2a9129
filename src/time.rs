//! Retention periods and the one clock of a run.
//!
//! A run takes `as_of` once, in UTC; every cutoff is computed from it by
//! [`Retain::cutoff`]. Calendar arithmetic rounds toward keeping data longer: one month
//! before 31 March is 28 (or 29) February, never 3 March.

use chrono::{DateTime, Duration, Months, Utc};
use std::fmt;
use std::str::FromStr;

/// How long a category is kept: a period, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retain {
    /// Never expires.
    Forever,
    /// Expires this long after the target's timestamp.
    For(Period),
}

/// A retention period as written in a rule: `12h`, `30d`, `8w`, `6mo`, `7y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hours(u32),
    Days(u32),
    Weeks(u32),
    /// Calendar months, UTC.
    Months(u32),
    /// Calendar years, UTC.
    Years(u32),
}

/// Why a period could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a retention period: write a whole number and a unit, e.g. 12h, 30d, 8w, 6mo, 7y, or `forever`")]
pub struct BadPeriod(pub String);

impl FromStr for Retain {
    type Err = BadPeriod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t == "forever" {
            return Ok(Retain::Forever);
        }
        let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits_end);
        let n: u32 = num.parse().map_err(|_| BadPeriod(s.to_owned()))?;
        if n == 0 {
            return Err(BadPeriod(s.to_owned()));
        }
        let p = match unit {
            "h" => Period::Hours(n),
            "d" => Period::Days(n),
            "w" => Period::Weeks(n),
            "mo" => Period::Months(n),
            "y" => Period::Years(n),
            _ => return Err(BadPeriod(s.to_owned())),
        };
        // Refuse periods over 1,000 years: their cutoff would leave the range of some
        // database's date types (MySQL's DATETIME starts at year 1000, PostgreSQL's in
        // 4714 BC) and every run would fail; nobody means 9,999 years but `forever`, and
        // a typo should not silently mean it either.
        if p.max_years() > 1000 {
            return Err(BadPeriod(s.to_owned()));
        }
        Ok(Retain::For(p))
    }
}

impl Period {
    fn max_years(&self) -> u64 {
        match *self {
            Period::Hours(n) => u64::from(n) / (24 * 365),
            Period::Days(n) => u64::from(n) / 365,
            Period::Weeks(n) => u64::from(n) / 52,
            Period::Months(n) => u64::from(n) / 12,
            Period::Years(n) => u64::from(n),
        }
    }

    /// The instant before which a record of this period has expired, or `None` when the
    /// period reaches before the start of the calendar (nothing has expired).
    pub fn cutoff(&self, as_of: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match *self {
            Period::Hours(n) => as_of.checked_sub_signed(Duration::hours(i64::from(n))),
            Period::Days(n) => as_of.checked_sub_signed(Duration::days(i64::from(n))),
            Period::Weeks(n) => as_of.checked_sub_signed(Duration::weeks(i64::from(n))),
            Period::Months(n) => as_of.checked_sub_months(Months::new(n)),
            Period::Years(n) => as_of.checked_sub_months(Months::new(n.checked_mul(12)?)),
        }
    }
}

impl Retain {
    /// The expiry cutoff at `as_of`, to the whole second (the precision every report and
    /// audit entry records it with; rounding down keeps data longer); `None` for `forever`.
    pub fn cutoff(&self, as_of: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Retain::Forever => None,
            Retain::For(p) => p.cutoff(whole_second(as_of)),
        }
    }
}

impl fmt::Display for Retain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retain::Forever => f.write_str("forever"),
            Retain::For(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Hours(n) => write!(f, "{n}h"),
            Period::Days(n) => write!(f, "{n}d"),
            Period::Weeks(n) => write!(f, "{n}w"),
            Period::Months(n) => write!(f, "{n}mo"),
            Period::Years(n) => write!(f, "{n}y"),
        }
    }
}

/// `t` without its fraction of a second (toward the past).
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Formats an instant the way every output of the tool does: RFC 3339, UTC, `Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Parses a user-supplied instant (`--as-of`, `--until`): RFC 3339, or a bare date
/// (`2026-12-31`, meaning its start in UTC).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "`{s}` is not a time: write RFC 3339 (2026-11-23T03:00:00Z) or a date (2026-11-23)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_instant(s).unwrap()
    }

    #[test]
    fn periods_parse_and_round_trip() {
        for s in [
            "12h", "30d", "8w", "6mo", "7y", "1000y", "12000mo", "forever",
        ] {
            assert_eq!(s.parse::<Retain>().unwrap().to_string(), s);
        }
        for bad in [
            "",
            "0d",
            "30",
            "d",
            "3 d",
            "1.5y",
            "-1d",
            "30m",
            "99999999999y",
            "1001y",
            "2100y",
            "9999y",
            "12012mo",
            "7years",
        ] {
            assert!(bad.parse::<Retain>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn calendar_months_round_toward_keeping_data_longer() {
        let p: Retain = "1mo".parse().unwrap();
        assert_eq!(
            p.cutoff(t("2026-03-31T03:00:00Z")),
            Some(t("2026-02-28T03:00:00Z"))
        );
        let y: Retain = "1y".parse().unwrap();
        assert_eq!(
            y.cutoff(t("2028-02-29T00:00:00Z")),
            Some(t("2027-02-28T00:00:00Z"))
        );
        let d: Retain = "90d".parse().unwrap();
        assert_eq!(
            d.cutoff(t("2026-11-23T03:00:00Z")),
            Some(t("2026-08-25T03:00:00Z"))
        );
        assert_eq!(Retain::Forever.cutoff(t("2026-11-23T03:00:00Z")), None);
    }

    #[test]
    fn a_fractional_as_of_gives_the_whole_second_cutoff_it_is_recorded_with() {
        let d: Retain = "1d".parse().unwrap();
        assert_eq!(
            d.cutoff(t("2026-11-23T12:00:00.700Z")),
            Some(t("2026-11-22T12:00:00Z"))
        );
        assert_eq!(
            d.cutoff(t("1969-12-31T23:59:59.500Z")),
            Some(t("1969-12-30T23:59:59Z"))
        );
    }
}
