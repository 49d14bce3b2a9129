//! Reading the state tables' timestamp columns, which each dialect stores differently:
//! `timestamptz` on PostgreSQL, `DATETIME(6)` (UTC) on MySQL/MariaDB, text on SQLite.

use chrono::{DateTime, NaiveDateTime, Utc};

/// A timestamp read back from MySQL's `DATETIME`, which has no zone: the tool writes UTC.
pub fn from_naive(t: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    t.map(|n| n.and_utc())
}

/// A timestamp read back from SQLite text. The tool writes them through sqlx
/// (`2026-11-23 03:00:00+00:00`), the schema's defaults as RFC 3339 with `Z`; an operator
/// inserting rows by hand may write either.
pub fn from_text(t: Option<String>) -> Option<DateTime<Utc>> {
    let t = t?;
    if let Ok(v) = DateTime::parse_from_rfc3339(&t) {
        return Some(v.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(v) = DateTime::parse_from_str(&t, f) {
            return Some(v.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(&t, f) {
            return Some(v.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_timestamps_in_every_format_the_tables_hold_are_read() {
        let want = "2026-11-23T03:00:00Z";
        for s in [
            "2026-11-23T03:00:00Z",
            "2026-11-23T03:00:00.000Z",
            "2026-11-23 03:00:00+00:00",
            "2026-11-23 03:00:00",
        ] {
            let got = from_text(Some(s.into())).map(crate::time::rfc3339);
            assert_eq!(got.as_deref(), Some(want), "{s}");
        }
        assert_eq!(from_text(Some("yesterday".into())), None);
    }
}
