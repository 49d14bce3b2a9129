//! Pure column transforms of SPEC §4 for the strategies applied in the tool rather than in
//! SQL (`hmac`, `truncate_ip`, `mask`), and the SQL-side rendering test vectors share.
//!
//! No I/O; every function maps a value to its anonymised form.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::IpAddr;

/// Keyed HMAC-SHA256 pseudonym of a value, as lowercase hex. The same input and key give
/// the same pseudonym, so joins across tables still work while the value is gone.
pub fn hmac_hex(key: &[u8], value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"retention-value/v1\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// IPv4 to its /24, IPv6 to its /48. An IPv4-mapped IPv6 address (`::ffff:203.0.113.77`,
/// how a dual-stack socket logs an IPv4 client) is an IPv4 address: its /24, kept in the
/// mapped form. A value that is not an IP address (or an address with a prefix length)
/// becomes `None` (NULL): keeping an unparseable value would keep whatever personal data
/// it holds.
pub fn truncate_ip(value: &str) -> Option<String> {
    let addr = value.split('/').next().unwrap_or_default().trim();
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Some(format!("{}.{}.{}.0", o[0], o[1], o[2]))
        }
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => {
            let o = v6.to_ipv4_mapped()?.octets();
            Some(format!("::ffff:{}.{}.{}.0", o[0], o[1], o[2]))
        }
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            for seg in s.iter_mut().skip(3) {
                *seg = 0;
            }
            Some(std::net::Ipv6Addr::from(s).to_string())
        }
    }
}

/// All but the last `keep_last` characters replaced by `*`. A value no longer than
/// `keep_last` is masked entirely: keeping all of it would keep the data.
pub fn mask(value: &str, keep_last: usize) -> String {
    let n = value.chars().count();
    let hide = if n <= keep_last { n } else { n - keep_last };
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i < hide { '*' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_are_truncated_to_their_network() {
        assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
        assert_eq!(
            truncate_ip("203.0.113.77/32").as_deref(),
            Some("203.0.113.0")
        );
        assert_eq!(
            truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(),
            Some("2001:db8:85a3::")
        );
        assert_eq!(truncate_ip("not an ip"), None);
        // A dual-stack socket's IPv4 client: truncated as IPv4, in the mapped form.
        assert_eq!(
            truncate_ip("::ffff:203.0.113.77").as_deref(),
            Some("::ffff:203.0.113.0")
        );
        assert_eq!(
            truncate_ip("::ffff:203.0.113.77/128").as_deref(),
            Some("::ffff:203.0.113.0")
        );
    }

    #[test]
    fn masking_keeps_only_the_last_characters() {
        assert_eq!(mask("+44 7700 900123", 3), "************123");
        assert_eq!(mask("ab", 4), "**");
        assert_eq!(mask("1234", 4), "****");
        assert_eq!(mask("12345", 4), "*2345");
        assert_eq!(mask("ünï", 1), "**ï");
    }

    #[test]
    fn hmac_pseudonyms_are_stable_keyed_and_hide_the_value() {
        let a = hmac_hex(b"k1", "alice@example.test");
        assert_eq!(a, hmac_hex(b"k1", "alice@example.test"));
        assert_ne!(a, hmac_hex(b"k2", "alice@example.test"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("alice"));
    }
}
