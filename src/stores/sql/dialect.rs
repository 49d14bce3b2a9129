//! Rendering SQL text for a dialect: quoted identifiers, placeholders, casts and the
//! expressions that differ between PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Everything here is pure string building from validated [`Ident`]s; values are pushed
//! as bound parameters through [`SqlText::bind`]. The tool's own fixed statements on its
//! state tables are written once with `?` placeholders and numbered by
//! [`SqlText::statement`].

use super::pool::Dialect;
use super::value::{ColumnKind, Value};
use crate::ident::Ident;

impl Dialect {
    /// Quotes a validated identifier. `Ident` cannot contain quote characters, so quoting
    /// is only needed for reserved words and case.
    pub fn quote(&self, ident: &Ident) -> String {
        match self {
            Dialect::MySql => format!("`{}`", ident.as_str()),
            _ => format!("\"{}\"", ident.as_str()),
        }
    }

    /// Quotes a name read from the database's own catalog (a child table, schema or
    /// column of a foreign key, a partition), whatever its characters: the quote
    /// character doubled. `None` for a name holding a NUL, which no identifier can.
    pub fn quote_catalog_name(&self, name: &str) -> Option<String> {
        if name.contains('\0') || name.is_empty() {
            return None;
        }
        let q = match self {
            Dialect::MySql => '`',
            _ => '"',
        };
        Some(format!("{q}{}{q}", name.replace(q, &format!("{q}{q}"))))
    }

    /// `alias.column`, quoted.
    pub fn col(&self, alias: &str, ident: &Ident) -> String {
        format!("{alias}.{}", self.quote(ident))
    }

    /// `expr`'s text as bytes compared exactly — no collation's case, accent or trailing
    /// space folding, in whatever character set the column has — and the placeholder
    /// form its counterpart takes ([`Dialect::exact_param`]).
    pub fn exact_text(&self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("(CAST({expr} AS TEXT) COLLATE \"C\")"),
            Dialect::MySql => {
                format!("CAST(CONVERT(CAST({expr} AS CHAR) USING utf8mb4) AS BINARY)")
            }
            Dialect::Sqlite => format!("CAST(CAST({expr} AS TEXT) AS BLOB)"),
        }
    }

    /// How a bound value (`?` in [`SqlText::statement`] terms, pushed by the caller)
    /// is wrapped to meet [`Dialect::exact_text`]: the text before and after it.
    pub fn exact_param(&self) -> (&'static str, &'static str) {
        match self {
            Dialect::Postgres => ("", ""),
            Dialect::MySql => ("CAST(", " AS BINARY)"),
            Dialect::Sqlite => ("CAST(", " AS BLOB)"),
        }
    }

    /// An expression that renders `expr` as text.
    pub fn as_text(&self, expr: &str) -> String {
        match self {
            Dialect::MySql => format!("CAST({expr} AS CHAR)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// An expression giving the Unix time in seconds (a double) of a timestamp expression
    /// of the given kind; `per_second` is set for integer epoch columns.
    pub fn epoch_seconds(&self, expr: &str, kind: ColumnKind, per_second: Option<i64>) -> String {
        if let Some(k) = per_second {
            return format!("({expr} * 1.0 / {k})");
        }
        match (self, kind) {
            (Dialect::Postgres, ColumnKind::Instant) => {
                format!("CAST(EXTRACT(EPOCH FROM {expr}) AS DOUBLE PRECISION)")
            }
            (Dialect::Postgres, ColumnKind::Date) => format!(
                "CAST(EXTRACT(EPOCH FROM (CAST({expr} AS TIMESTAMP) AT TIME ZONE 'UTC')) AS DOUBLE PRECISION)"
            ),
            (Dialect::Postgres, _) => format!(
                "CAST(EXTRACT(EPOCH FROM ({expr} AT TIME ZONE 'UTC')) AS DOUBLE PRECISION)"
            ),
            (Dialect::MySql, _) => format!("CAST(UNIX_TIMESTAMP({expr}) AS DOUBLE)"),
            (Dialect::Sqlite, _) => format!("(({} - 2440587.5) * 86400.0)", sqlite_julianday(expr)),
        }
    }
}

/// SQLite: `expr` as a day of a `YYYY-MM-DD` date alone (the whole value, nothing after).
pub fn sqlite_date_only(expr: &str) -> String {
    format!("({expr} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')")
}

/// SQLite: the Julian day of a text timestamp, or NULL when the value is no time the tool
/// reads. `julianday()` alone takes a number as a Julian day (`0` is 4713 BC), rolls an
/// impossible date over (`2020-02-30` is 1 March, hour 24 the next day) and ignores
/// trailing junk; here a value must start `YYYY-MM-DD` — alone, or followed by `T` or a
/// space and `HH:MM` with an hour below 24 — its date must be a real one, and the whole
/// must still read as a time.
pub fn sqlite_julianday(expr: &str) -> String {
    format!(
        "(CASE WHEN ({date_only} OR {expr} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][ T][0-9][0-9]:[0-9][0-9]*') \
         AND date(substr({expr}, 1, 10)) = substr({expr}, 1, 10) \
         AND (length({expr}) = 10 OR substr({expr}, 12, 2) <= '23') THEN julianday({expr}) END)",
        date_only = sqlite_date_only(expr)
    )
}

/// A SQL statement being built, with its bound values in placeholder order.
#[derive(Debug, Clone)]
pub struct SqlText {
    pub dialect: Dialect,
    pub sql: String,
    pub values: Vec<Value>,
}

impl SqlText {
    pub fn new(dialect: Dialect) -> Self {
        SqlText {
            dialect,
            sql: String::new(),
            values: Vec::new(),
        }
    }

    /// A whole statement from the tool's own fixed SQL, written once for every dialect
    /// with a `?` for each value, in order: PostgreSQL gets `$1, $2, …`, MySQL/MariaDB and
    /// SQLite keep `?`. The text must contain no other `?` (none in a string literal, a
    /// comment or an operator), and a value used twice is passed twice.
    ///
    /// A count of `?` that differs from the count of values is a bug in the caller's
    /// constant: debug builds (every test) assert it; release builds do not panic but
    /// hand the text, with any `?` left over, and every value to the driver as they are.
    pub fn statement(dialect: Dialect, sql: &str, values: Vec<Value>) -> SqlText {
        debug_assert_eq!(
            sql.matches('?').count(),
            values.len(),
            "placeholders and values of `{sql}`"
        );
        let mut q = SqlText::new(dialect);
        let mut values = values.into_iter();
        for (i, part) in sql.split('?').enumerate() {
            if i > 0 {
                match values.next() {
                    Some(v) => q.bind(v),
                    None => q.push("?"),
                };
            }
            q.push(part);
        }
        q.values.extend(values);
        q
    }

    /// Appends another statement fragment with its values, renumbering its PostgreSQL
    /// placeholders after this one's.
    pub fn append(&mut self, other: SqlText) -> &mut Self {
        match self.dialect {
            Dialect::Postgres => {
                let offset = self.values.len();
                let mut rest = other.sql.as_str();
                while let Some(i) = rest.find('$') {
                    self.sql.push_str(&rest[..i]);
                    let digits: String = rest[i + 1..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    match digits.parse::<usize>() {
                        Ok(n) => self.sql.push_str(&format!("${}", n + offset)),
                        Err(_) => self.sql.push('$'),
                    }
                    rest = &rest[i + 1 + digits.len()..];
                }
                self.sql.push_str(rest);
            }
            _ => self.sql.push_str(&other.sql),
        }
        self.values.extend(other.values);
        self
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// Pushes `items` separated by commas, each as `item` writes it.
    pub fn list<V>(&mut self, items: &[V], mut item: impl FnMut(&mut Self, &V)) -> &mut Self {
        for (i, v) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            item(self, v);
        }
        self
    }

    /// Pushes a placeholder for `v` and remembers the value.
    pub fn bind(&mut self, v: Value) -> &mut Self {
        self.values.push(v);
        let p = match self.dialect {
            Dialect::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        };
        self.sql.push_str(&p);
        self
    }

    /// Pushes a placeholder for a value compared with (or written to) a column of `kind`
    /// whose catalog type is `type_name`. A value that travels as text meets the column
    /// in the column's own type: PostgreSQL casts it to that type (so a `real` column
    /// meets the `real` nearest the literal, a `char(n)` column a `char` value, an enum
    /// its label); MySQL/MariaDB, which compare a string with a number as doubles, get a
    /// cast to an exact `DECIMAL`, to `FLOAT`/`DOUBLE`, or to `UNSIGNED` for an integer
    /// past 2^63. Elsewhere (SQLite) the column's affinity converts the value.
    pub fn bind_for(&mut self, kind: ColumnKind, type_name: &str, v: Value) -> &mut Self {
        let cast = match (&v, self.dialect) {
            (Value::Text(_), Dialect::Postgres)
                // `char(n)` and `citext` compare by their own rules (padding, case),
                // which a value typed text would not follow, nor sort as they do.
                if (kind != ColumnKind::Text || matches!(type_name, "bpchar" | "citext"))
                    && is_plain_type_name(type_name) =>
            {
                // An enum created as `"Role"` is named by its quoted name.
                Some(if type_name.bytes().any(|b| b.is_ascii_uppercase()) {
                    format!("\"{type_name}\"")
                } else {
                    type_name.to_owned()
                })
            }
            (Value::Text(t), Dialect::MySql) => match kind {
                ColumnKind::Float if matches!(type_name, "decimal" | "numeric") => {
                    let scale = t.split_once('.').map_or(0, |(_, f)| f.len()).min(30);
                    Some(format!("DECIMAL(65, {scale})"))
                }
                ColumnKind::Float if type_name == "float" => Some("FLOAT".to_owned()),
                ColumnKind::Float => Some("DOUBLE".to_owned()),
                ColumnKind::Int if t.parse::<i64>().is_err() => Some("UNSIGNED".to_owned()),
                _ => None,
            },
            _ => None,
        };
        match cast {
            Some(ty) => {
                self.push("CAST(");
                self.bind(v);
                self.push(" AS ").push(&ty).push(")");
            }
            None => {
                self.bind(v);
            }
        }
        self
    }
}

/// What stands in [`SqlText::statement`] text for an optional value: `?` and the value,
/// or the literal `NULL` and no value (a bound NULL would need a type on PostgreSQL).
pub fn placeholder_or_null(v: Option<Value>) -> (&'static str, Option<Value>) {
    match v {
        Some(v) => ("?", Some(v)),
        None => ("NULL", None),
    }
}

/// Catalog type names reach SQL text only if they are plain words (`int8`, `uuid`,
/// `varchar`), never anything a catalog could smuggle in.
fn is_plain_type_name(s: &str) -> bool {
    !s.is_empty() && s.len() < 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_dialect() {
        let mut pg = SqlText::new(Dialect::Postgres);
        pg.push("a = ")
            .bind(Value::I64(1))
            .push(" AND b = ")
            .bind(Value::I64(2));
        assert_eq!(pg.sql, "a = $1 AND b = $2");
        let mut my = SqlText::new(Dialect::MySql);
        my.push("a = ").bind(Value::I64(1));
        assert_eq!(my.sql, "a = ?");
    }

    #[test]
    fn a_statement_numbers_its_placeholders_on_postgres_only() {
        let sql = "UPDATE t SET a = ?, b = ? WHERE c = ?";
        let values = vec![Value::I64(1), Value::Text("two".into()), Value::Bool(true)];
        let pg = SqlText::statement(Dialect::Postgres, sql, values.clone());
        assert_eq!(pg.sql, "UPDATE t SET a = $1, b = $2 WHERE c = $3");
        assert_eq!(pg.values, values);
        for dialect in [Dialect::MySql, Dialect::Sqlite] {
            let q = SqlText::statement(dialect, sql, values.clone());
            assert_eq!(q.sql, sql);
            assert_eq!(q.values, values);
        }
        let trailing = SqlText::statement(Dialect::Postgres, "VALUES (?, ?)", values[..2].to_vec());
        assert_eq!(trailing.sql, "VALUES ($1, $2)");
        let none = SqlText::statement(Dialect::Postgres, "DELETE FROM t", Vec::new());
        assert_eq!(none.sql, "DELETE FROM t");
        assert!(none.values.is_empty());
    }

    #[test]
    fn an_appended_fragment_keeps_its_values_in_placeholder_order() {
        let mut a = SqlText::new(Dialect::Postgres);
        a.push("x = ").bind(Value::I64(1)).push(" AND ");
        let mut b = SqlText::new(Dialect::Postgres);
        b.push("y = ")
            .bind(Value::I64(2))
            .push(" OR z = ")
            .bind(Value::I64(3));
        a.append(b);
        assert_eq!(a.sql, "x = $1 AND y = $2 OR z = $3");
        assert_eq!(a.values, [Value::I64(1), Value::I64(2), Value::I64(3)]);
    }

    #[test]
    fn an_absent_value_is_written_as_null() {
        assert_eq!(placeholder_or_null(None), ("NULL", None));
        assert_eq!(
            placeholder_or_null(Some(Value::I64(3))),
            ("?", Some(Value::I64(3)))
        );
    }

    #[test]
    fn text_compared_with_a_uuid_column_is_cast_on_postgres_only() {
        let mut pg = SqlText::new(Dialect::Postgres);
        pg.bind_for(ColumnKind::Uuid, "uuid", Value::Text("x".into()));
        assert_eq!(pg.sql, "CAST($1 AS uuid)");
        let mut lite = SqlText::new(Dialect::Sqlite);
        lite.bind_for(ColumnKind::Uuid, "uuid", Value::Text("x".into()));
        assert_eq!(lite.sql, "?");
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        let i = Ident::parse("order").unwrap();
        assert_eq!(Dialect::MySql.quote(&i), "`order`");
        assert_eq!(Dialect::Postgres.quote(&i), "\"order\"");
    }
}
