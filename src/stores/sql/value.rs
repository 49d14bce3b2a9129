//! Values bound to SQL parameters, typed to fit the column they are compared with.
//!
//! Rule files and subject ids arrive as text; a bound value must still match the
//! column's type so indexes are used (`account_id = $1` with an integer, not a cast of
//! the column). [`ColumnKind`] is read from the database catalog.

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
            _ if t.contains("int") || t == "serial" || t == "bigserial" => ColumnKind::Int,
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
    /// value of the column could equal it (an id `abc` in an integer column).
    pub fn value_of(&self, text: &str) -> Option<Value> {
        match self {
            ColumnKind::Int => text.trim().parse().ok().map(Value::I64),
            ColumnKind::Float => text.trim().parse().ok().map(Value::F64),
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

/// Binds every value onto a sqlx query, whichever database it is for.
macro_rules! bind_values {
    ($query:expr, $values:expr) => {{
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
        ] {
            assert_eq!(ColumnKind::classify(t), k, "{t}");
        }
    }

    #[test]
    fn a_subject_id_that_cannot_be_an_integer_matches_nothing_in_an_integer_column() {
        assert_eq!(ColumnKind::Int.value_of("42"), Some(Value::I64(42)));
        assert_eq!(ColumnKind::Int.value_of("abc"), None);
        assert_eq!(
            ColumnKind::Text.value_of("abc"),
            Some(Value::Text("abc".into()))
        );
    }
}
