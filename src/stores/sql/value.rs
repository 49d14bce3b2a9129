//! Values bound to SQL parameters, typed to fit the column they are compared with.
//!
//! Rule files and subject ids arrive as text; a bound value must still match the
//! column's type so indexes are used (`account_id = $1` with an integer, not a cast of
//! the column). [`ColumnKind`] is read from the database catalog.

use crate::rules::Scalar;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A bindable value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    I64(i64),
    F64(f64),
    Text(String),
    Bool(bool),
    /// An instant, for timestamptz columns.
    Instant(DateTime<Utc>),
    /// A wall-clock time in UTC, for timestamp/datetime columns.
    Naive(NaiveDateTime),
    Date(NaiveDate),
    /// A PostgreSQL `text[]` (addresses and keys of a batch, cast in the statement).
    TextArray(Vec<String>),
}

/// What kind of data a column holds, as far as the tool cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Int,
    Float,
    Text,
    Bool,
    /// PostgreSQL timestamptz.
    Instant,
    /// timestamp without time zone, MySQL datetime/timestamp (session in UTC).
    Naive,
    Date,
    /// PostgreSQL inet/cidr.
    Inet,
    Uuid,
    Other,
}

/// An integer type: `int`, `int8`, `bigint`, `tinyint`, SQLite's declared `INTEGER` or
/// `UNSIGNED BIG INT` (SQLite's own rule: the name contains "int"), the serials — but not
/// the types whose names merely contain "int": `interval`, `point`/`multipoint`, ranges
/// (`int4range`), vectors (`int2vector`) and arrays (`_int4`, `int[]`).
fn is_integer_type(t: &str) -> bool {
    let not_a_number = ["interval", "point", "range", "vector"]
        .iter()
        .any(|w| t.contains(w))
        || t.starts_with('_')
        || t.ends_with(']');
    (t.contains("int") && !not_a_number) || t.ends_with("serial")
}

impl ColumnKind {
    /// Classifies a catalog type name (PostgreSQL `udt_name`, MySQL `DATA_TYPE`, SQLite
    /// declared type).
    pub fn classify(type_name: &str) -> ColumnKind {
        let t = type_name.to_ascii_lowercase();
        let t = t.trim();
        match t {
            "timestamptz" | "timestamp with time zone" => ColumnKind::Instant,
            "timestamp" | "datetime" | "timestamp without time zone" => ColumnKind::Naive,
            "date" => ColumnKind::Date,
            "inet" | "cidr" => ColumnKind::Inet,
            "uuid" => ColumnKind::Uuid,
            "bool" | "boolean" => ColumnKind::Bool,
            _ if is_integer_type(t) => ColumnKind::Int,
            _ if t.starts_with("float")
                || t.starts_with("double")
                || t.starts_with("real")
                || t.starts_with("numeric")
                || t.starts_with("decimal") =>
            {
                ColumnKind::Float
            }
            _ if t.contains("char") || t.contains("text") || t.contains("clob") || t.is_empty() => {
                ColumnKind::Text
            }
            _ => ColumnKind::Other,
        }
    }

    /// The value that compares equal to `text` in a column of this kind, or `None` when no
    /// value of the column could equal it (an id `abc` in an integer column). An integer
    /// matches only its own spelling: ` 04` is not 4 here, as it is not `'4'` in a text
    /// column, so one id names one subject in every column.
    pub fn value_of(&self, text: &str) -> Option<Value> {
        match self {
            ColumnKind::Int => text
                .parse::<i64>()
                .ok()
                .filter(|i| i.to_string() == text)
                .map(Value::I64),
            ColumnKind::Float => text.parse().ok().map(Value::F64),
            _ => Some(Value::Text(text.to_owned())),
        }
    }

    /// The value that stands for the instant `t` in a column of this kind.
    pub fn instant(&self, t: DateTime<Utc>) -> Value {
        match self {
            ColumnKind::Instant => Value::Instant(t),
            ColumnKind::Naive => Value::Naive(t.naive_utc()),
            ColumnKind::Date => Value::Date(t.date_naive()),
            ColumnKind::Int => Value::I64(t.timestamp()),
            _ => Value::Text(crate::time::rfc3339(t)),
        }
    }
}

/// The value a rule literal stands for in a column of `kind` (catalog type `type_name`),
/// or why no value of the column can be it. Text columns compare the literal as written,
/// whatever YAML made of it; numeric, boolean and date/time columns parse it; other types
/// (uuid, inet, enums …) receive it as text, which PostgreSQL casts to the column's type.
pub fn literal(kind: ColumnKind, type_name: &str, lit: &Scalar) -> Result<Value, String> {
    let text = lit.text();
    let bad = |what: &str| {
        Err(format!(
            "`{}` is not {what} (the column is `{type_name}`)",
            text.escape_default()
        ))
    };
    match kind {
        ColumnKind::Text | ColumnKind::Other => Ok(Value::Text(text)),
        ColumnKind::Int => match lit {
            Scalar::Bool(b) => Ok(Value::I64(i64::from(*b))),
            _ => match text.parse::<i64>() {
                Ok(i) => Ok(Value::I64(i)),
                Err(_) => bad("an integer"),
            },
        },
        ColumnKind::Float => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => {
                // Exact decimals stay exact: PostgreSQL's numeric gets the text and casts it.
                let decimal = type_name.starts_with("numeric") || type_name.starts_with("decimal");
                Ok(if decimal {
                    Value::Text(text)
                } else {
                    Value::F64(f)
                })
            }
            _ => bad("a number"),
        },
        ColumnKind::Bool => match (lit, text.to_ascii_lowercase().as_str()) {
            (Scalar::Bool(b), _) => Ok(Value::Bool(*b)),
            (_, "true" | "1") => Ok(Value::Bool(true)),
            (_, "false" | "0") => Ok(Value::Bool(false)),
            _ => bad("a boolean"),
        },
        ColumnKind::Instant | ColumnKind::Naive | ColumnKind::Date => {
            let t = crate::time::parse_instant(&text).or_else(|_| {
                NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f"))
                    .map(|n| n.and_utc())
            });
            match t {
                Ok(t) if kind == ColumnKind::Date && t.time() != chrono::NaiveTime::MIN => {
                    bad("a date")
                }
                Ok(t) => Ok(kind.instant(t)),
                Err(_) => bad("a date or time"),
            }
        }
        ColumnKind::Uuid => match uuid::Uuid::parse_str(&text) {
            Ok(_) => Ok(Value::Text(text)),
            Err(_) => bad("a UUID"),
        },
        ColumnKind::Inet => {
            let addr = text.split('/').next().unwrap_or_default();
            match addr.parse::<std::net::IpAddr>() {
                Ok(_) => Ok(Value::Text(text)),
                Err(_) => bad("an IP address"),
            }
        }
    }
}

/// Binds every value onto a sqlx query, whichever database it is for. A text array binds
/// as a PostgreSQL `text[]` with `pg`, and as its JSON text elsewhere.
macro_rules! bind_values {
    (pg, $query:expr, $values:expr) => {
        $crate::stores::sql::value::bind_values!(@each $query, $values, |x: &Vec<String>| x.clone())
    };
    ($query:expr, $values:expr) => {
        $crate::stores::sql::value::bind_values!(@each $query, $values, |x: &Vec<String>| {
            serde_json::to_string(x).unwrap_or_default()
        })
    };
    (@each $query:expr, $values:expr, $array:expr) => {{
        let mut q = $query;
        for v in $values {
            q = match v {
                $crate::stores::sql::value::Value::I64(x) => q.bind(*x),
                $crate::stores::sql::value::Value::F64(x) => q.bind(*x),
                $crate::stores::sql::value::Value::Text(x) => q.bind(x.clone()),
                $crate::stores::sql::value::Value::Bool(x) => q.bind(*x),
                $crate::stores::sql::value::Value::Instant(x) => q.bind(*x),
                $crate::stores::sql::value::Value::Naive(x) => q.bind(*x),
                $crate::stores::sql::value::Value::Date(x) => q.bind(*x),
                $crate::stores::sql::value::Value::TextArray(x) => q.bind(($array)(x)),
            };
        }
        q
    }};
}
pub(crate) use bind_values;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_types_are_classified_across_dialects() {
        for (t, k) in [
            ("int8", ColumnKind::Int),
            ("bigint", ColumnKind::Int),
            ("INTEGER", ColumnKind::Int),
            ("timestamptz", ColumnKind::Instant),
            ("datetime", ColumnKind::Naive),
            ("timestamp", ColumnKind::Naive),
            ("varchar", ColumnKind::Text),
            ("VARCHAR(255)", ColumnKind::Text),
            ("double precision", ColumnKind::Float),
            ("float8", ColumnKind::Float),
            ("inet", ColumnKind::Inet),
            ("date", ColumnKind::Date),
            ("UNSIGNED BIG INT", ColumnKind::Int),
            ("tinyint", ColumnKind::Int),
            ("smallserial", ColumnKind::Int),
            // Names that contain "int" without being integers.
            ("interval", ColumnKind::Other),
            ("point", ColumnKind::Other),
            ("multipoint", ColumnKind::Other),
            ("int4range", ColumnKind::Other),
            ("int2vector", ColumnKind::Other),
            ("_int8", ColumnKind::Other),
            ("integer[]", ColumnKind::Other),
        ] {
            assert_eq!(ColumnKind::classify(t), k, "{t}");
        }
    }

    #[test]
    fn rule_literals_take_the_type_of_the_column_they_meet() {
        let text = |k, t, l| literal(k, t, &l);
        // A number meets a text column as the text it was written as.
        assert_eq!(
            text(ColumnKind::Text, "varchar", Scalar::Int(42)),
            Ok(Value::Text("42".into()))
        );
        assert_eq!(
            text(ColumnKind::Int, "int8", Scalar::Text("042".into())),
            Ok(Value::I64(42))
        );
        assert!(text(ColumnKind::Int, "int8", Scalar::Text("abc".into())).is_err());
        assert!(text(ColumnKind::Int, "int8", Scalar::Float(4.5)).is_err());
        assert_eq!(
            text(ColumnKind::Float, "numeric", Scalar::Text("9.90".into())),
            Ok(Value::Text("9.90".into()))
        );
        assert_eq!(
            text(ColumnKind::Date, "date", Scalar::Text("1900-01-01".into())),
            Ok(Value::Date(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()))
        );
        assert!(text(ColumnKind::Date, "date", Scalar::Text("n/a".into())).is_err());
        assert!(text(ColumnKind::Uuid, "uuid", Scalar::Text("x".into())).is_err());
        assert!(text(ColumnKind::Inet, "inet", Scalar::Text("10.0.0.0/8".into())).is_ok());
        assert_eq!(
            text(ColumnKind::Bool, "bool", Scalar::Text("true".into())),
            Ok(Value::Bool(true))
        );
    }

    #[test]
    fn a_subject_id_that_cannot_be_an_integer_matches_nothing_in_an_integer_column() {
        assert_eq!(ColumnKind::Int.value_of("42"), Some(Value::I64(42)));
        assert_eq!(ColumnKind::Int.value_of("abc"), None);
        for other_spelling in [" 42", "042", "+42", "42 "] {
            assert_eq!(
                ColumnKind::Int.value_of(other_spelling),
                None,
                "{other_spelling}"
            );
        }
        assert_eq!(ColumnKind::Int.value_of("-7"), Some(Value::I64(-7)));
        assert_eq!(
            ColumnKind::Text.value_of("abc"),
            Some(Value::Text("abc".into()))
        );
    }
}
