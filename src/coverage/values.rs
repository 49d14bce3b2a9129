//! What a few sampled values of a text column look like: email addresses, phone numbers,
//! IP addresses. The values themselves go no further than these functions: a finding
//! carries only how many of them matched, never one of them. Pure: no I/O.

use super::kinds::Kind;
use regex::Regex;
use std::net::IpAddr;
use std::sync::OnceLock;

/// How many rows a sample reads from the start of a table.
pub const SAMPLE_ROWS: usize = 100;

/// Of a column's sampled values, how many looked like one kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleMatch {
    pub kind: Kind,
    pub matched: u32,
    /// Non-empty values looked at.
    pub sampled: u32,
}

/// The kind most of the non-empty `values` look like, if at least half of them (and at
/// least one) look like it. `None` for an empty sample.
pub fn classify<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<SampleMatch> {
    let mut counts = [(Kind::Email, 0u32), (Kind::Phone, 0), (Kind::IpAddress, 0)];
    let mut sampled = 0u32;
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        sampled += 1;
        if let Some(k) = looks_like(v) {
            if let Some(c) = counts.iter_mut().find(|(kind, _)| *kind == k) {
                c.1 += 1;
            }
        }
    }
    let (kind, matched) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (matched > 0 && matched * 2 >= sampled).then_some(SampleMatch {
        kind,
        matched,
        sampled,
    })
}

/// The kind one value looks like.
fn looks_like(v: &str) -> Option<Kind> {
    if is_email(v) {
        Some(Kind::Email)
    } else if is_ip(v) {
        Some(Kind::IpAddress)
    } else if is_phone(v) {
        Some(Kind::Phone)
    } else {
        None
    }
}

fn is_email(v: &str) -> bool {
    static EMAIL: OnceLock<Regex> = OnceLock::new();
    EMAIL
        .get_or_init(|| {
            Regex::new(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
                .expect("a valid pattern")
        })
        .is_match(v)
}

/// An IPv4 or IPv6 address, optionally with a prefix length (`10.1.2.0/24`).
fn is_ip(v: &str) -> bool {
    let addr = v.split_once('/').map_or(v, |(a, _)| a);
    addr.parse::<IpAddr>().is_ok()
}

/// A phone number as people write them: digits with spaces, dashes, dots or brackets,
/// 7 to 15 digits, written either in international form (`+55 (12) 3923-5555`) or with
/// separators (`030 1234 5678`). Dates (`2024-01-31`), decimals and bare digit runs (ids,
/// amounts) are not phone numbers.
fn is_phone(v: &str) -> bool {
    static DATE: OnceLock<Regex> = OnceLock::new();
    let international = v.starts_with('+');
    let body = v.strip_prefix('+').unwrap_or(v);
    if !body
        .chars()
        .all(|c| c.is_ascii_digit() || " -.()/".contains(c))
    {
        return false;
    }
    let digits = body.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) || !body.starts_with(|c: char| c.is_ascii_digit() || c == '(') {
        return false;
    }
    if international {
        return true;
    }
    let groups = body
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .count();
    let date = DATE
        .get_or_init(|| Regex::new(r"^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$").expect("a valid pattern"));
    let decimal = groups == 2 && body.contains('.');
    groups >= 2 && !date.is_match(body) && !decimal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values_are_told_apart() {
        for (v, want) in [
            ("luisg@embraer.com.br", Some(Kind::Email)),
            ("o'brien+tag@example.co.uk", Some(Kind::Email)),
            ("192.168.10.4", Some(Kind::IpAddress)),
            ("10.1.2.0/24", Some(Kind::IpAddress)),
            ("2001:db8::1", Some(Kind::IpAddress)),
            ("+55 (12) 3923-5555", Some(Kind::Phone)),
            ("+1 (780) 428-9482", Some(Kind::Phone)),
            ("030 1234 5678", Some(Kind::Phone)),
            ("(02) 9876-5432", Some(Kind::Phone)),
            ("2024-01-31", None),
            ("31.01.2024", None),
            ("3.14159", None),
            ("1234567890", None),
            ("AC/DC", None),
            ("not an email@", None),
            ("Rock", None),
            ("+", None),
        ] {
            assert_eq!(looks_like(v), want, "{v}");
        }
    }

    #[test]
    fn a_column_counts_when_at_least_half_of_its_values_match() {
        let m = classify(["a@b.io", "c@d.io", "n/a", ""]).unwrap();
        assert_eq!((m.kind, m.matched, m.sampled), (Kind::Email, 2, 3));
        assert_eq!(classify(["a@b.io", "x", "y"]), None);
        assert_eq!(classify(Vec::<&str>::new()), None);
        assert_eq!(classify(["", "  "]), None);
    }
}
