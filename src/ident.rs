//! SQL identifiers that are safe by construction.
//!
//! Names from rule files reach SQL only as an [`Ident`], which can only be built from a
//! plain ASCII identifier (`[A-Za-z_][A-Za-z0-9_]{0,62}`), and is always quoted for the
//! dialect when rendered. Values never travel this way: they are bound parameters.

use std::fmt;

/// A validated plain SQL identifier (table or column name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(String);

/// Why a string is not a plain SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` is not a plain SQL identifier (letters, digits and `_`, starting with a letter or `_`, at most 63 characters)")]
pub struct BadIdent {
    shown: String,
}

impl Ident {
    /// Parses a plain identifier; anything else (quotes, spaces, `;`, unicode look-alikes,
    /// an empty string) is refused.
    pub fn parse(s: &str) -> Result<Self, BadIdent> {
        let mut chars = s.chars();
        let ok_first = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
        let ok_rest = s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok_first && ok_rest && s.len() <= 63 {
            Ok(Ident(s.to_owned()))
        } else {
            Err(BadIdent {
                shown: s.escape_default().to_string(),
            })
        }
    }

    /// The identifier as written in the rule file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Ident;

    #[test]
    fn plain_identifiers_pass_and_everything_else_is_refused() {
        for ok in ["device_locations", "_x", "A1", "recorded_at"] {
            assert!(Ident::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "web_logs; DROP TABLE x",
            "a\"b",
            "a'b",
            "a`b",
            "1abc",
            "ta ble",
            "tаble", // Cyrillic 'а'
            "a.b",
            "a-b",
            &"x".repeat(64),
        ] {
            assert!(Ident::parse(bad).is_err(), "{bad:?}");
        }
    }
}
