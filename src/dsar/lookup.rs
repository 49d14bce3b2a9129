//! Resolving an email address or phone number to one subject id, through
//! `subjects.lookup` (`{store, table, key, by: [email, phone]}`).
//!
//! `--email` searches the `by` columns whose name mentions mail, `--phone` those that
//! mention phone, mobile, tel or msisdn; when no column's name says which it is, every
//! `by` column is searched. The match is exact (the value as stored). Zero matches, or
//! several subjects, are errors: erasing the wrong person, or silently nobody, is worse
//! than asking the operator to pass `--subject`. Messages never repeat the address.

use crate::config::SubjectLookup;
use crate::ident::Ident;
use crate::stores::sql::dialect::SqlText;
use crate::stores::sql::exec::fetch_texts;
use crate::stores::sql::value::Value;
use crate::workspace::Workspace;
use anyhow::{anyhow, Result};

/// What the operator gave to find the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Email,
    Phone,
}

impl By {
    fn flag(&self) -> &'static str {
        match self {
            By::Email => "--email",
            By::Phone => "--phone",
        }
    }

    fn fits(&self, column: &str) -> bool {
        let c = column.to_ascii_lowercase();
        match self {
            By::Email => c.contains("mail"),
            By::Phone => ["phone", "mobile", "tel", "msisdn"]
                .iter()
                .any(|w| c.contains(w)),
        }
    }
}

/// Why a lookup found no single subject. The operator branches on these (exit 1).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("{0} needs `subjects.lookup` in the configuration (store, table, key, by); or pass --subject")]
    NotConfigured(&'static str),
    #[error("{flag}: no subject in `{store}.{table}` matches; nothing was changed (check the value, or pass --subject)")]
    NoMatch {
        flag: &'static str,
        store: String,
        table: String,
    },
    #[error("{flag}: {count} subjects in `{store}.{table}` match; nothing was changed (pass --subject to say which)")]
    Several {
        flag: &'static str,
        count: usize,
        store: String,
        table: String,
    },
}

/// The columns `by` searches for this kind of value.
pub fn columns(lookup: &SubjectLookup, by: By) -> Vec<&Ident> {
    let fitting: Vec<&Ident> = lookup.by.iter().filter(|c| by.fits(c.as_str())).collect();
    if fitting.is_empty() {
        lookup.by.iter().collect()
    } else {
        fitting
    }
}

/// `t.c` is `value`, byte for byte: no collation folds case or accents, no number
/// conversion reads `+4912345abc` as 4912345, whatever the column's type.
fn exactly(q: &mut SqlText, c: &Ident, value: &str) {
    let d = q.dialect;
    let (before, after) = d.exact_param();
    q.push(&d.exact_text(&d.col("t", c)))
        .push(" = ")
        .push(before)
        .bind(Value::Text(value.to_owned()))
        .push(after);
}

/// Resolves `value` to exactly one subject id.
pub async fn resolve(ws: &Workspace, by: By, value: &str) -> Result<String> {
    let lookup = ws
        .config
        .subjects
        .as_ref()
        // A configuration the command cannot work with: a usage error (exit 2).
        .ok_or_else(|| {
            crate::exit::Refusal::Invalid(LookupError::NotConfigured(by.flag()).to_string())
        })?;
    let pool = ws.sql.get(&lookup.store).ok_or_else(|| {
        anyhow!(
            "subjects.lookup: store `{}` is not a SQL store",
            lookup.store
        )
    })?;
    let d = pool.dialect();
    let cols = columns(lookup, by);
    let mut q = SqlText::new(d);
    q.push("SELECT DISTINCT ")
        .push(&d.as_text(&d.col("t", &lookup.key)))
        .push(" FROM ")
        .push(&d.quote(&lookup.table))
        .push(" t WHERE ");
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        exactly(&mut q, c, value);
    }
    // Two rows are enough to know the answer is not one subject.
    q.push(" LIMIT 2");
    let mut conn = pool.acquire().await?;
    let rows = fetch_texts(&mut conn.conn(), &q, 1).await.map_err(|e| {
        anyhow!(
            "subjects.lookup: searching `{}.{}` failed: {e:#}",
            lookup.store,
            lookup.table
        )
    })?;
    let ids: Vec<String> = rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(LookupError::NoMatch {
            flag: by.flag(),
            store: lookup.store.clone(),
            table: lookup.table.to_string(),
        }
        .into()),
        _ => {
            // Count them all only now, for the message.
            let n = count(pool, lookup, &cols, value).await.unwrap_or(ids.len());
            Err(LookupError::Several {
                flag: by.flag(),
                count: n,
                store: lookup.store.clone(),
                table: lookup.table.to_string(),
            }
            .into())
        }
    }
}

async fn count(
    pool: &crate::stores::sql::SqlPool,
    lookup: &SubjectLookup,
    cols: &[&Ident],
    value: &str,
) -> Result<usize> {
    let d = pool.dialect();
    let mut q = SqlText::new(d);
    q.push("SELECT ")
        .push(&d.as_text(&format!("COUNT(DISTINCT {})", d.col("t", &lookup.key))))
        .push(" FROM ")
        .push(&d.quote(&lookup.table))
        .push(" t WHERE ");
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        exactly(&mut q, c, value);
    }
    let mut conn = pool.acquire().await?;
    let rows = fetch_texts(&mut conn.conn(), &q, 1).await?;
    rows.into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no count"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(by: &[&str]) -> SubjectLookup {
        SubjectLookup {
            store: "app".into(),
            table: Ident::parse("accounts").unwrap(),
            key: Ident::parse("id").unwrap(),
            by: by.iter().map(|c| Ident::parse(c).unwrap()).collect(),
        }
    }

    fn names(l: &SubjectLookup, by: By) -> Vec<&str> {
        columns(l, by).into_iter().map(Ident::as_str).collect()
    }

    #[test]
    fn an_email_searches_the_mail_columns_and_a_phone_the_phone_columns() {
        let l = lookup(&["email", "phone", "backup_email", "mobile_no"]);
        assert_eq!(names(&l, By::Email), ["email", "backup_email"]);
        assert_eq!(names(&l, By::Phone), ["phone", "mobile_no"]);
    }

    #[test]
    fn columns_whose_names_say_nothing_are_all_searched() {
        let l = lookup(&["contact", "login"]);
        assert_eq!(names(&l, By::Email), ["contact", "login"]);
        assert_eq!(names(&l, By::Phone), ["contact", "login"]);
    }
}
