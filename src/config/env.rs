//! `${VAR}` and `${VAR:-default}` expansion in configuration values (SPEC §2).
//!
//! Expansion happens per scalar after the YAML is parsed, not on the raw text, so a
//! secret containing `:` or `#` cannot change the document's structure, and a problem can
//! be reported with the field it is in. `${VAR:-default}` uses the default when the
//! variable is unset or empty, as in the shell; `$${` writes a literal `${`.

/// Expands every reference in `text`, looking variables up with `env`.
///
/// The error names the variable and says how to fix it; it never contains a value.
pub fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix("${") {
            out.push_str("${");
            rest = tail;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(close) = body_start.find('}') else {
            return Err("`${` is not closed; write ${NAME} or ${NAME:-default}".to_owned());
        };
        let body = &body_start[..close];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !is_var_name(name) {
            return Err(format!(
                "`${{{}}}` does not name an environment variable; write ${{NAME}} or ${{NAME:-default}} with NAME made of letters, digits and `_`",
                body.escape_default()
            ));
        }
        match (env(name).filter(|v| !v.is_empty() || default.is_none()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "the environment variable {name} is not set; export it, or write ${{{name}:-default}} to give a default"
                ))
            }
        }
        rest = &body_start[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn env(name: &str) -> Option<String> {
        match name {
            "DB" => Some("postgres://u:p@h/db".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn check(input: &str, expected: Result<&str, &str>) {
        let got = expand(input, &env);
        match expected {
            Ok(want) => assert_eq!(got.as_deref(), Ok(want), "{input}"),
            Err(fragment) => {
                let e = got.expect_err(input);
                assert!(e.contains(fragment), "{input}: {e}");
            }
        }
    }

    #[test]
    fn variables_expand_with_and_without_defaults() {
        check("${DB}", Ok("postgres://u:p@h/db"));
        check("url=${DB}/x", Ok("url=postgres://u:p@h/db/x"));
        check("${UNSET:-fallback}", Ok("fallback"));
        check("${UNSET:-}", Ok(""));
        check("${EMPTY:-used when empty}", Ok("used when empty"));
        check("${EMPTY}", Ok(""));
        check("${DB:-ignored}", Ok("postgres://u:p@h/db"));
        check("no variables", Ok("no variables"));
        check("cost $5 and $$ {x}", Ok("cost $5 and $$ {x}"));
        check("$${DB}", Ok("${DB}"));
        check("${UNSET:-a:-b}", Ok("a:-b"));
    }

    #[test]
    fn unset_variables_and_bad_references_are_errors_naming_the_variable() {
        check("${UNSET}", Err("UNSET is not set"));
        check("x ${DB} ${MISSING_KEY}", Err("MISSING_KEY is not set"));
        check("${DB", Err("not closed"));
        check("${}", Err("does not name"));
        check("${1X}", Err("does not name"));
        check("${A B}", Err("does not name"));
    }
}
