//! Values bound to SQL parameters, typed to fit the column they are compared with.
//!
//! Rule files and subject ids arrive as text; a bound value must still match the
//! column's type so indexes are used (`account_id = $1` with an integer, not a cast of
//! the column). [`ColumnKind`] is read from the database catalog.

use super::pool::Dialect;
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
    /// A PostgreSQL `int8[]` (the integer keys of a window, see
    /// [`super::batch::delete_window_keys`]).
    IntArray(Vec<i64>),
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

    /// Classifies a catalog type name of `dialect`. PostgreSQL and MySQL/MariaDB name
    /// their types exactly (`udt_name`, `DATA_TYPE`), so a type is what its whole name
    /// says: an enum called `print_status` is no integer, nor `charge_status` text, nor
    /// `realm` a float. SQLite's declared types follow its affinity rules instead (a name
    /// containing "INT" is an integer …): [`ColumnKind::classify`].
    pub fn classify_in(dialect: Dialect, type_name: &str) -> ColumnKind {
        if dialect == Dialect::Sqlite {
            // SQLite has no uuid or inet type: a column declared so holds text.
            return match ColumnKind::classify(type_name) {
                ColumnKind::Uuid | ColumnKind::Inet => ColumnKind::Text,
                k => k,
            };
        }
        let t = type_name.to_ascii_lowercase();
        match t.trim() {
            "int2" | "int4" | "int8" | "smallint" | "integer" | "int" | "bigint" | "tinyint"
            | "mediumint" => ColumnKind::Int,
            // MySQL's BIT(n) compares as a number: `true` must meet it as 1, not as the
            // text 'true' (which MariaDB reads as 0).
            "bit" if dialect == Dialect::MySql => ColumnKind::Int,
            "float4" | "float8" | "numeric" | "decimal" | "float" | "double" | "real"
            | "double precision" => ColumnKind::Float,
            "varchar" | "bpchar" | "text" | "char" | "name" | "citext" | "tinytext"
            | "mediumtext" | "longtext" | "character varying" | "character" => ColumnKind::Text,
            t => match ColumnKind::classify(t) {
                k @ (ColumnKind::Instant
                | ColumnKind::Naive
                | ColumnKind::Date
                | ColumnKind::Inet
                | ColumnKind::Uuid
                | ColumnKind::Bool) => k,
                _ => ColumnKind::Other,
            },
        }
    }

    /// The value that compares equal to `text` in a column of this kind, or `None` when no
    /// value of the column could equal it (an id `abc` in an integer column). A number
    /// matches only its own spelling: ` 04`, `4.0` and `4e0` are not 4 here, as they are
    /// not `'4'` in a text column, so one id names one subject in every column. Numbers
    /// travel as their text, cast to the column's own type in the statement
    /// ([`SqlText::bind_for`](super::dialect::SqlText::bind_for)): a `numeric(20,0)` id
    /// past 2^53, or one past 2^63 in a MySQL `BIGINT UNSIGNED`, is compared exactly,
    /// never as a float.
    pub fn value_of(&self, text: &str) -> Option<Value> {
        match self {
            ColumnKind::Int => match text.parse::<i64>() {
                Ok(i) => (i.to_string() == text).then_some(Value::I64(i)),
                // Only MySQL's BIGINT UNSIGNED holds these.
                Err(_) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|u| u.to_string() == text)
                    .map(|_| Value::Text(text.to_owned())),
            },
            ColumnKind::Float => is_plain_decimal(text).then(|| Value::Text(text.to_owned())),
            // A uuid column holds uuids: an id that is one (in any spelling PostgreSQL
            // itself reads, as it compares them) meets it as that uuid; any other id
            // matches nothing, rather than failing the statement's cast — whose error
            // would carry the id into the log.
            ColumnKind::Uuid => uuid::Uuid::parse_str(text)
                .ok()
                .map(|u| Value::Text(u.hyphenated().to_string())),
            // Likewise an inet column and an address.
            ColumnKind::Inet => {
                let addr = text.split_once('/').map_or(text, |(a, _)| a);
                addr.parse::<std::net::IpAddr>()
                    .is_ok()
                    .then(|| Value::Text(text.to_owned()))
            }
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

/// `-?(0|[1-9][0-9]*)(.[0-9]*[1-9])?`: a number as a column prints it, one spelling each.
fn is_plain_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'));
    let frac_ok = frac.map_or(true, |f| {
        !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) && !f.ends_with('0')
    });
    int_ok && frac_ok && text != "-0"
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
            _ if text.eq_ignore_ascii_case("true") => Ok(Value::I64(1)),
            _ if text.eq_ignore_ascii_case("false") => Ok(Value::I64(0)),
            _ => match text.parse::<i64>() {
                Ok(i) => Ok(Value::I64(i)),
                Err(_) => bad("an integer"),
            },
        },
        // The text, cast to the column's own type in the statement: a `real` column's 0.05
        // is the `real` nearest 0.05, which a double 0.05 is not, and a numeric stays exact.
        ColumnKind::Float => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Text(text)),
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
        $crate::stores::sql::value::bind_values!(@each $query, $values, |x: &Vec<String>| x.clone(), |x: &Vec<i64>| x.clone())
    };
    ($query:expr, $values:expr) => {
        $crate::stores::sql::value::bind_values!(@each $query, $values, |x: &Vec<String>| {
            serde_json::to_string(x).unwrap_or_default()
        }, |x: &Vec<i64>| serde_json::to_string(x).unwrap_or_default())
    };
    (@each $query:expr, $values:expr, $array:expr, $ints:expr) => {{
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
                $crate::stores::sql::value::Value::IntArray(x) => q.bind(($ints)(x)),
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
            text(ColumnKind::Float, "float4", Scalar::Float(0.05)),
            Ok(Value::Text("0.05".into()))
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
    fn a_number_matches_only_its_own_spelling_and_travels_exactly() {
        let exact = "12345678901234567891";
        assert_eq!(
            ColumnKind::Float.value_of(exact),
            Some(Value::Text(exact.into()))
        );
        for spelling in ["0", "1", "-1", "0.05", "-12.5", "100"] {
            assert!(ColumnKind::Float.value_of(spelling).is_some(), "{spelling}");
        }
        for other in [
            "01", "1.0", "1e0", "+1", " 1", "1.", ".5", "-0", "", "-", "1.50", "abc",
        ] {
            assert_eq!(ColumnKind::Float.value_of(other), None, "{other}");
        }
    }

    #[test]
    fn types_are_what_their_whole_name_says_outside_sqlite() {
        for (d, t, k) in [
            (Dialect::Postgres, "print_status", ColumnKind::Other),
            (Dialect::Postgres, "charge_status", ColumnKind::Other),
            (Dialect::Postgres, "realm", ColumnKind::Other),
            (Dialect::Postgres, "Role", ColumnKind::Other),
            (Dialect::Postgres, "int8", ColumnKind::Int),
            (Dialect::Postgres, "float4", ColumnKind::Float),
            (Dialect::Postgres, "bpchar", ColumnKind::Text),
            (Dialect::Postgres, "timestamptz", ColumnKind::Instant),
            (Dialect::Postgres, "bit", ColumnKind::Other),
            (Dialect::MySql, "bit", ColumnKind::Int),
            (Dialect::MySql, "decimal", ColumnKind::Float),
            (Dialect::MySql, "longtext", ColumnKind::Text),
            (Dialect::MySql, "enum", ColumnKind::Other),
            (Dialect::MySql, "datetime", ColumnKind::Naive),
            // SQLite: affinity by substring, as SQLite itself decides.
            (Dialect::Sqlite, "print_status", ColumnKind::Int),
            (Dialect::Sqlite, "VARCHAR(255)", ColumnKind::Text),
        ] {
            assert_eq!(ColumnKind::classify_in(d, t), k, "{d:?} {t}");
        }
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
        // Past 2^63 only as its own spelling, as text (cast in the statement).
        assert_eq!(
            ColumnKind::Int.value_of("18446744073709551605"),
            Some(Value::Text("18446744073709551605".into()))
        );
        assert_eq!(ColumnKind::Int.value_of("018446744073709551605"), None);
        assert_eq!(ColumnKind::Int.value_of("18446744073709551616"), None);
        let id = "0193a0b4-7c1e-7d2a-9f00-0123456789ab";
        for spelling in [
            id,
            "0193A0B4-7C1E-7D2A-9F00-0123456789AB",
            "0193a0b47c1e7d2a9f000123456789ab",
        ] {
            assert_eq!(
                ColumnKind::Uuid.value_of(spelling),
                Some(Value::Text(id.into())),
                "{spelling}"
            );
        }
        for other in ["Owner-5", "42", "carol@example.com"] {
            assert_eq!(ColumnKind::Uuid.value_of(other), None, "{other}");
            assert_eq!(ColumnKind::Inet.value_of(other), None, "{other}");
        }
        assert!(ColumnKind::Inet.value_of("10.0.0.0/8").is_some());
        assert_eq!(
            ColumnKind::Text.value_of("abc"),
            Some(Value::Text("abc".into()))
        );
    }
}
