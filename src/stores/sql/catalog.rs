//! What the database's own catalog says about a table: what kind of relation it is,
//! columns and their types and lengths, the primary and unique keys, foreign keys in and
//! out, and indexes.
//!
//! Partitions are resolved to the partitioned table they belong to: a foreign key declared
//! on a partition is the partitioned table's, and a column counts as indexed when every
//! partition has an index that starts with it. Deletes follow foreign keys read from here
//! (children before parents), and `check --connect` compares rules against it.

use super::pool::SqlPool;
use super::value::ColumnKind;
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// One column.
#[derive(Debug, Clone)]
pub struct Column {
    /// The catalog's type name (PostgreSQL `udt_name`, MySQL `DATA_TYPE`, SQLite declared type).
    pub type_name: String,
    pub kind: ColumnKind,
    pub nullable: bool,
    /// The most characters a text column holds (`varchar(20)`), when the database enforces
    /// one (SQLite never does).
    pub max_length: Option<u32>,
}

/// What kind of relation a name denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relation {
    /// A plain table: a row's physical address (`ctid`) is unique in it.
    #[default]
    Table,
    /// A partitioned table (PostgreSQL declarative, MySQL/MariaDB `PARTITION BY`), or a
    /// PostgreSQL table with inheritance children: rows live in several physical tables.
    Hierarchy,
    /// A view, a foreign table, a sequence …: nothing the tool can delete from by key.
    NotATable(&'static str),
}

/// A foreign key from `child(child_cols)` to `parent(parent_cols)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub child: String,
    pub child_cols: Vec<String>,
    pub parent: String,
    pub parent_cols: Vec<String>,
    /// The child table's schema (database, on MySQL/MariaDB) when it is not the
    /// connection's; the parent always is.
    pub child_schema: Option<String>,
    /// Whether deleting a parent row deletes or rewrites its children (`ON DELETE
    /// CASCADE`, `SET NULL` or `SET DEFAULT`) rather than failing.
    pub changes_children: bool,
}

impl ForeignKey {
    /// The child table as SQL: its quoted name, qualified by its schema when it lives in
    /// another (names as the catalog gives them, quoted whatever their characters).
    pub fn child_sql(&self, d: super::pool::Dialect) -> Option<String> {
        let child = d.quote_catalog_name(&self.child)?;
        Some(match &self.child_schema {
            None => child,
            Some(s) => format!("{}.{child}", d.quote_catalog_name(s)?),
        })
    }

    /// The join condition `child.c1 = parent.p1 AND …` under the two aliases (a NULL child
    /// column makes it unknown: that child refers to nothing).
    pub fn join_condition(
        &self,
        d: super::pool::Dialect,
        child: &str,
        parent: &str,
    ) -> Option<String> {
        let pairs: Option<Vec<String>> = self
            .child_cols
            .iter()
            .zip(&self.parent_cols)
            .map(|(c, p)| {
                Some(format!(
                    "{child}.{} = {parent}.{}",
                    d.quote_catalog_name(c)?,
                    d.quote_catalog_name(p)?
                ))
            })
            .collect();
        Some(pairs?.join(" AND "))
    }

    /// Whether the child is the table `name` of the connection's schema.
    pub fn child_is(&self, name: &str) -> bool {
        self.child_schema.is_none() && self.child == name
    }
}

/// A table as the catalog describes it.
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    pub name: String,
    pub relation: Relation,
    pub columns: BTreeMap<String, Column>,
    pub primary_key: Vec<String>,
    /// Each unique index or constraint (the primary key's too) as its column list.
    pub unique_keys: Vec<Vec<String>>,
    /// Each index as its column list, in order.
    pub indexes: Vec<Vec<String>>,
    /// How a partitioned table is partitioned (`None` for every other relation).
    pub partitioning: Option<super::partitions::Partitioning>,
    /// PostgreSQL: a row-level `BEFORE DELETE` trigger or a `DELETE` rule on the table or
    /// any of its partitions or children may leave a row the statement matched (or do
    /// something else instead), so only batches that count what they changed against
    /// what they picked may run there.
    pub delete_rewritten: bool,
    /// PostgreSQL: any row-level `DELETE` trigger (before or after) or `DELETE` rule there:
    /// dropping a partition would skip what it does, so partitions go by rows.
    pub delete_hooked: bool,
    /// MySQL/MariaDB: the storage engine (`InnoDB`, `MyISAM` …).
    pub engine: Option<String>,
    /// PostgreSQL 14 or later, whose executor tests `x = ANY(array)` against a hash table
    /// of a constant array's values; earlier servers compare each row with every value.
    pub hashes_arrays: bool,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.get(name)
    }

    /// Why `key` cannot identify one row, if it cannot: it must be the primary key, or a
    /// unique key whose columns are all NOT NULL (in any order).
    pub fn key_problem(&self, key: &[&str]) -> Option<String> {
        let mut wanted: Vec<&str> = key.to_vec();
        wanted.sort_unstable();
        let same = |cols: &Vec<String>| {
            let mut c: Vec<&str> = cols.iter().map(String::as_str).collect();
            c.sort_unstable();
            c == wanted
        };
        if !self.primary_key.is_empty() && same(&self.primary_key) {
            return None;
        }
        let not_null = key
            .iter()
            .all(|k| self.column(k).is_some_and(|c| !c.nullable));
        if not_null && self.unique_keys.iter().any(same) {
            return None;
        }
        let pk = if self.primary_key.is_empty() {
            "the table has no primary key".to_owned()
        } else {
            format!("the primary key is [{}]", self.primary_key.join(", "))
        };
        Some(if self.unique_keys.iter().any(same) {
            format!(
                "[{}] is a unique key with a nullable column, so it cannot name one row; {pk}",
                key.join(", ")
            )
        } else {
            format!(
                "[{}] is neither the primary key nor a unique NOT NULL key, so a batch could touch rows it did not select; {pk}",
                key.join(", ")
            )
        })
    }

    /// Whether some index starts with `column` (so lookups by it need no table scan).
    pub fn is_indexed(&self, column: &str) -> bool {
        self.primary_key.first().map(String::as_str) == Some(column)
            || self
                .indexes
                .iter()
                .any(|ix| ix.first().map(String::as_str) == Some(column))
    }
}

/// Reads one table; `None` when it does not exist.
pub async fn table(pool: &SqlPool, name: &str) -> Result<Option<TableInfo>> {
    let cols: Vec<(String, String, bool, i64, Option<i64>)> = match pool {
        // pg_catalog rather than information_schema, whose views take ~10 ms per table
        // here against ~1 ms; the same rows and answers as `information_schema.columns`:
        // the domain's base type (as `udt_name`), a NOT NULL domain not nullable, only
        // tables, views, foreign and partitioned tables, only columns the role may use.
        SqlPool::Pg(p) => {
            sqlx::query_as(
                // A domain's base type, through a domain over a domain (two levels).
                "SELECT a.attname::text, COALESCE(bt2.typname, bt.typname, t.typname)::text,
                    NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)
                         OR COALESCE(bt.typtype = 'd' AND bt.typnotnull, false)),
                    COALESCE(array_position(pk.conkey, a.attnum), 0)::int8,
                    CASE WHEN COALESCE(bt2.typname, bt.typname, t.typname) IN ('varchar', 'bpchar')
                              AND COALESCE(NULLIF(a.atttypmod, -1), NULLIF(t.typtypmod, -1), bt.typtypmod) > 4
                         THEN (COALESCE(NULLIF(a.atttypmod, -1), NULLIF(t.typtypmod, -1), bt.typtypmod) - 4)::int8 END
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
             LEFT JOIN pg_catalog.pg_type bt2 ON bt.typtype = 'd' AND bt2.oid = bt.typbasetype
             LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
             WHERE n.nspname = current_schema() AND c.relname = $1
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
               AND (pg_has_role(c.relowner, 'USAGE')
                    OR has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES'))
             ORDER BY a.attnum",
            )
            .bind(name)
            .fetch_all(p)
            .await?
        }
        // Two lookups by schema and table name, which MariaDB answers from that one
        // table's definition; a correlated subquery on KEY_COLUMN_USAGE instead opened
        // every table of every database (seconds per table on a busy server).
        SqlPool::My(p) => {
            let primary: Vec<(String, i64)> = sqlx::query_as(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(SEQ_IN_INDEX AS SIGNED)
                 FROM information_schema.STATISTICS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY'",
            )
            .bind(name)
            .fetch_all(p)
            .await?;
            let cols: Vec<(String, String, bool, Option<i64>)> = sqlx::query_as(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), IS_NULLABLE = 'YES',
                        CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED)
                 FROM information_schema.COLUMNS
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
                 ORDER BY ORDINAL_POSITION",
            )
            .bind(name)
            .fetch_all(p)
            .await?;
            cols.into_iter()
                .map(|(col, ty, nullable, len)| {
                    let pos = primary
                        .iter()
                        .find(|(c, _)| *c == col)
                        .map_or(0, |(_, pos)| *pos);
                    (col, ty, nullable, pos, len)
                })
                .collect()
        }
        SqlPool::Lite(p) => sqlx::query_as(
            "SELECT name, type, \"notnull\" = 0, pk, NULL FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(name)
        .fetch_all(p)
        .await?,
    };
    if cols.is_empty() {
        return Ok(None);
    }
    let mut info = TableInfo {
        name: name.to_owned(),
        ..Default::default()
    };
    let mut pk: Vec<(i64, String)> = Vec::new();
    for (col, type_name, nullable, pk_pos, max_length) in cols {
        if pk_pos > 0 {
            pk.push((pk_pos, col.clone()));
        }
        info.columns.insert(
            col,
            Column {
                kind: ColumnKind::classify_in(pool.dialect(), &type_name),
                type_name,
                nullable,
                max_length: max_length.and_then(|n| u32::try_from(n).ok()),
            },
        );
    }
    pk.sort();
    info.primary_key = pk.into_iter().map(|(_, c)| c).collect();
    (info.relation, info.engine, info.hashes_arrays) = relation(pool, name)
        .await
        .with_context(|| format!("reading what kind of relation `{name}` is"))?;
    let all = indexes(pool, name)
        .await
        .with_context(|| format!("reading the indexes of `{name}`"))?;
    info.unique_keys = all
        .iter()
        .filter(|(unique, _)| *unique)
        .map(|(_, cols)| cols.clone())
        .collect();
    info.indexes = all.into_iter().map(|(_, cols)| cols).collect();
    if info.relation == Relation::Hierarchy {
        info.partitioning = super::partitions::partitioning(pool, name)
            .await
            .with_context(|| format!("reading how `{name}` is partitioned"))?;
    }
    if let (SqlPool::Pg(p), Relation::Hierarchy) = (pool, info.relation) {
        // An index created on every partition (not on the partitioned table) serves
        // lookups just as well.
        let on_every_partition: Vec<(String,)> = sqlx::query_as(
            "WITH leaves AS (
               SELECT relid FROM pg_partition_tree((
                 SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relname = $1)) WHERE isleaf)
             SELECT a.attname::text
             FROM leaves l
             JOIN pg_index x ON x.indrelid = l.relid
             JOIN pg_attribute a ON a.attrelid = l.relid AND a.attnum = x.indkey[0]
             GROUP BY a.attname
             HAVING COUNT(DISTINCT l.relid) = (SELECT COUNT(*) FROM leaves)",
        )
        .bind(name)
        .fetch_all(p)
        .await
        .with_context(|| format!("reading the partitions' indexes of `{name}`"))?;
        info.indexes
            .extend(on_every_partition.into_iter().map(|(c,)| vec![c]));
    }
    match pool {
        SqlPool::Pg(p) => {
            (info.delete_rewritten, info.delete_hooked) = delete_hooks(p, name)
                .await
                .with_context(|| format!("reading the delete triggers and rules of `{name}`"))?;
        }
        SqlPool::My(p) => {
            // Batches count what they change on MySQL/MariaDB; a trigger matters only to
            // dropping a partition, which would skip it.
            info.delete_hooked = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM information_schema.TRIGGERS
                  WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?
                    AND EVENT_MANIPULATION = 'DELETE')",
            )
            .bind(name)
            .fetch_one(p)
            .await
            .map(|b: i64| b != 0)
            .with_context(|| format!("reading the delete triggers of `{name}`"))?;
        }
        SqlPool::Lite(_) => {}
    }
    Ok(Some(info))
}

/// On the table or anything below it (partitions, inheritance children), enabled or
/// not: whether a row-level `BEFORE DELETE` trigger or a `DELETE` rule sits there, and
/// whether any row-level `DELETE` trigger (before or after) or `DELETE` rule does.
async fn delete_hooks(pool: &sqlx::PgPool, name: &str) -> Result<(bool, bool)> {
    // tgtype bits: 1 row, 2 before, 8 delete; pg_rewrite.ev_type '4' is DELETE.
    Ok(sqlx::query_as(
        "WITH RECURSIVE tree(relid) AS (
           SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname = $1
           UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid),
         rules AS (SELECT EXISTS (SELECT 1 FROM pg_rewrite r JOIN tree t ON r.ev_class = t.relid
                                   WHERE r.ev_type = '4') AS any)
         SELECT EXISTS (SELECT 1 FROM pg_trigger tg JOIN tree t ON tg.tgrelid = t.relid
                         WHERE NOT tg.tgisinternal AND tg.tgtype & 11 = 11) OR rules.any,
                EXISTS (SELECT 1 FROM pg_trigger tg JOIN tree t ON tg.tgrelid = t.relid
                         WHERE NOT tg.tgisinternal AND tg.tgtype & 9 = 9) OR rules.any
           FROM rules",
    )
    .bind(name)
    .fetch_one(pool)
    .await?)
}

/// What kind of relation `name` is (it exists: its columns were read), on
/// MySQL/MariaDB its storage engine, and on PostgreSQL whether the server hashes constant
/// arrays ([`TableInfo::hashes_arrays`]).
async fn relation(pool: &SqlPool, name: &str) -> Result<(Relation, Option<String>, bool)> {
    let mut engine = None;
    let mut hashes_arrays = false;
    let relation = match pool {
        SqlPool::Pg(p) => {
            let (kind, children, hashes): (String, bool, bool) = sqlx::query_as(
                "SELECT c.relkind::text, c.relhassubclass,
                        current_setting('server_version_num')::int >= 140000
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relname = $1",
            )
            .bind(name)
            .fetch_one(p)
            .await?;
            hashes_arrays = hashes;
            match kind.as_str() {
                "p" => Relation::Hierarchy,
                "r" if children => Relation::Hierarchy,
                "r" => Relation::Table,
                "v" => Relation::NotATable("a view"),
                "m" => Relation::NotATable("a materialized view"),
                "f" => Relation::NotATable("a foreign table"),
                _ => Relation::NotATable("not a table"),
            }
        }
        SqlPool::My(p) => {
            let (kind, options, storage): (String, Option<String>, Option<String>) =
                sqlx::query_as(
                    "SELECT CAST(TABLE_TYPE AS CHAR), CAST(CREATE_OPTIONS AS CHAR), CAST(ENGINE AS CHAR)
                     FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                )
                .bind(name)
                .fetch_one(p)
                .await?;
            engine = storage;
            match kind.as_str() {
                "BASE TABLE"
                    if options
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                        .contains("partitioned") =>
                {
                    Relation::Hierarchy
                }
                "BASE TABLE" => Relation::Table,
                "VIEW" | "SYSTEM VIEW" => Relation::NotATable("a view"),
                "SEQUENCE" => Relation::NotATable("a sequence"),
                _ => Relation::NotATable("not a table"),
            }
        }
        SqlPool::Lite(p) => {
            let kind: Option<String> =
                sqlx::query_scalar("SELECT type FROM sqlite_master WHERE name = ?")
                    .bind(name)
                    .fetch_optional(p)
                    .await?;
            match kind.as_deref() {
                Some("table") | None => Relation::Table,
                Some("view") => Relation::NotATable("a view"),
                Some(_) => Relation::NotATable("not a table"),
            }
        }
    };
    Ok((relation, engine, hashes_arrays))
}

/// Every index of `table`: whether it is unique, and its columns in order.
async fn indexes(pool: &SqlPool, table: &str) -> Result<Vec<(bool, Vec<String>)>> {
    let rows: Vec<(String, bool, String)> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(
            // An index on an expression (`lower(email)`) or with a predicate (`WHERE
            // deleted_at IS NULL`) makes no plain column list unique: its expression
            // columns drop out of the join below, and a partial one leaves rows out.
            "SELECT i.relname::text, x.indisunique AND x.indexprs IS NULL AND x.indpred IS NULL,
                    a.attname::text
             FROM pg_index x
             JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_class i ON i.oid = x.indexrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE n.nspname = current_schema() AND t.relname = $1
             ORDER BY i.relname, k.ord",
        )
        .bind(table)
        .fetch_all(p)
        .await?,
        SqlPool::My(p) => sqlx::query_as(
            "SELECT CAST(INDEX_NAME AS CHAR), NON_UNIQUE = 0, CAST(COLUMN_NAME AS CHAR) FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        )
        .bind(table)
        .fetch_all(p)
        .await?,
        SqlPool::Lite(p) => sqlx::query_as(
            // The same on SQLite: a partial index is no key, and an expression column
            // (no name) leaves a column list no key equals.
            "SELECT il.name, il.\"unique\" = 1 AND il.partial = 0, COALESCE(ii.name, '')
             FROM pragma_index_list(?1) il, pragma_index_info(il.name) ii
             ORDER BY il.name, ii.seqno",
        )
        .bind(table)
        .fetch_all(p)
        .await?,
    };
    let mut out: Vec<(String, bool, Vec<String>)> = Vec::new();
    for (index, unique, col) in rows {
        match out.last_mut() {
            Some((name, _, cols)) if *name == index => cols.push(col),
            _ => out.push((index, unique, vec![col])),
        }
    }
    Ok(out.into_iter().map(|(_, u, c)| (u, c)).collect())
}

/// Every foreign key between tables of the store's current schema.
pub async fn foreign_keys(pool: &SqlPool) -> Result<Vec<ForeignKey>> {
    // (constraint id, child, child col, parent, parent col, child schema when not the
    // connection's). Every key whose parent is in the connection's schema, from children
    // anywhere: a child in another schema keeps parent rows just the same. The constraint
    // id ends in `:` and the key's `ON DELETE` action: a row some child row references is
    // never deleted, whatever the action (see `PreparedTable::referencing`), but a key
    // that would change its children makes deletes run in a snapshot (`changes_children`).
    type Row = (String, String, String, String, String, Option<String>);
    let rows: Vec<Row> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(
            // A partition's constraint is its partitioned table's (both sides); the
            // copies PostgreSQL makes of a partitioned table's constraint for each
            // partition (`conparentid` set) add nothing.
            // A key to a table with inheritance children counts for that table, and a
            // key to one of the children counts for its parent too (a target on the
            // parent deletes the child's rows as well): each such key comes twice.
            "SELECT id, child, ccol, parent, pcol, schema FROM (
               SELECT c.oid::text || ':' || c.confdeltype::text AS id, k.ord, cl.relname::text AS child, ca.attname::text AS ccol,
                      pl.relname::text AS parent, pa.attname::text AS pcol,
                      CASE WHEN cn.nspname = current_schema() THEN NULL ELSE cn.nspname::text END AS schema
               FROM pg_constraint c
               JOIN pg_class cl ON cl.oid = COALESCE(pg_partition_root(c.conrelid), c.conrelid)
               JOIN pg_class pl ON pl.oid = COALESCE(pg_partition_root(c.confrelid), c.confrelid)
               JOIN pg_namespace cn ON cn.oid = cl.relnamespace
               JOIN pg_namespace pn ON pn.oid = pl.relnamespace
               JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ck, pk, ord) ON true
               JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.ck
               JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pk
               WHERE c.contype = 'f' AND c.conparentid = 0 AND pn.nspname = current_schema()
               UNION ALL
               SELECT c.oid::text || '/inherited:' || c.confdeltype::text, k.ord, cl.relname::text, ca.attname::text,
                      pl.relname::text, pa.attname::text,
                      CASE WHEN cn.nspname = current_schema() THEN NULL ELSE cn.nspname::text END
               FROM pg_constraint c
               JOIN pg_inherits i ON i.inhrelid = c.confrelid
               JOIN pg_class pl ON pl.oid = i.inhparent AND pl.relkind = 'r'
               JOIN pg_class cl ON cl.oid = COALESCE(pg_partition_root(c.conrelid), c.conrelid)
               JOIN pg_namespace cn ON cn.oid = cl.relnamespace
               JOIN pg_namespace pn ON pn.oid = pl.relnamespace
               JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(ck, pk, ord) ON true
               JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.ck
               JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pk
               WHERE c.contype = 'f' AND c.conparentid = 0 AND pn.nspname = current_schema()
             ) u
             ORDER BY id, ord",
        )
        .fetch_all(p)
        .await?,
        SqlPool::My(p) => sqlx::query_as(
            // A constraint's name is unique in its database only (`orders_ibfk_1` in two).
            "SELECT CAST(CONCAT(CONCAT_WS('.', k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME), ':', r.DELETE_RULE) AS CHAR),
                    CAST(k.TABLE_NAME AS CHAR), CAST(k.COLUMN_NAME AS CHAR),
                    CAST(k.REFERENCED_TABLE_NAME AS CHAR), CAST(k.REFERENCED_COLUMN_NAME AS CHAR),
                    CASE WHEN k.TABLE_SCHEMA = DATABASE() THEN NULL ELSE CAST(k.TABLE_SCHEMA AS CHAR) END
             FROM information_schema.KEY_COLUMN_USAGE k
             JOIN information_schema.REFERENTIAL_CONSTRAINTS r
               ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
              AND r.TABLE_NAME = k.TABLE_NAME
             WHERE k.REFERENCED_TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
             ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        )
        .fetch_all(p)
        .await?,
        SqlPool::Lite(p) => sqlx::query_as(
            "SELECT m.name || '#' || f.id || ':' || f.on_delete, m.name, f.\"from\", f.\"table\", COALESCE(f.\"to\", ''),
                    NULL
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f
             WHERE m.type = 'table'
             ORDER BY m.name, f.id, f.seq",
        )
        .fetch_all(p)
        .await?,
    };
    let mut out: Vec<(String, ForeignKey)> = Vec::new();
    for (id, child, ccol, parent, pcol, child_schema) in rows {
        match out.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.child_cols.push(ccol);
                fk.parent_cols.push(pcol);
            }
            _ => {
                let action = id.rsplit_once(':').map_or("", |(_, a)| a);
                let changes_children = matches!(
                    action.to_ascii_uppercase().as_str(),
                    "C" | "N" | "D" | "CASCADE" | "SET NULL" | "SET DEFAULT"
                );
                out.push((
                    id,
                    ForeignKey {
                        child,
                        child_cols: vec![ccol],
                        parent,
                        parent_cols: vec![pcol],
                        child_schema,
                        changes_children,
                    },
                ))
            }
        }
    }
    let mut fks: Vec<ForeignKey> = Vec::new();
    for (_, fk) in out {
        // The same key declared on every partition is one key of the partitioned table.
        if !fks.contains(&fk) {
            fks.push(fk);
        }
    }
    // SQLite leaves `to` empty when the key references the parent's primary key.
    if let SqlPool::Lite(_) = pool {
        for fk in &mut fks {
            if fk.parent_cols.iter().any(String::is_empty) {
                if let Some(info) = table(pool, &fk.parent).await? {
                    fk.parent_cols = info.primary_key.clone();
                }
            }
        }
    }
    Ok(fks)
}

/// One base table of the store's current schema, as `schema` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaTable {
    pub name: String,
    /// `(column, catalog type name)` in the table's column order.
    pub columns: Vec<(String, String)>,
    pub primary_key: Vec<String>,
}

/// Every base table of the store's current schema (PostgreSQL: `current_schema()`,
/// partitions folded into their parent; MySQL/MariaDB: `DATABASE()`; SQLite: the main
/// database, its own `sqlite_` tables left out) with its columns, in one catalog query.
/// Views are left out: they hold no data of their own.
pub async fn schema(pool: &SqlPool) -> Result<Vec<SchemaTable>> {
    // (table, column, type, part of the primary key)
    let rows: Vec<(String, String, String, bool)> = match pool {
        SqlPool::Pg(p) => sqlx::query_as(
            "SELECT c.relname::text, a.attname::text, COALESCE(bt.typname, t.typname)::text,
                    COALESCE(a.attnum = ANY(pk.conkey), false)
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_catalog.pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
             LEFT JOIN pg_catalog.pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p'
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY c.relname, a.attnum",
        )
        .fetch_all(p)
        .await?,
        SqlPool::My(p) => sqlx::query_as(
            "SELECT CAST(c.TABLE_NAME AS CHAR), CAST(c.COLUMN_NAME AS CHAR), CAST(c.DATA_TYPE AS CHAR),
                    c.COLUMN_KEY = 'PRI'
             FROM information_schema.COLUMNS c
             JOIN information_schema.TABLES t
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
             ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        )
        .fetch_all(p)
        .await?,
        SqlPool::Lite(p) => sqlx::query_as(
            "SELECT m.name, c.name, c.type, c.pk > 0 FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!'
             ORDER BY m.name, c.cid",
        )
        .fetch_all(p)
        .await?,
    };
    let mut out: Vec<SchemaTable> = Vec::new();
    for (table, column, type_name, in_key) in rows {
        if out.last().map(|t| &t.name) != Some(&table) {
            out.push(SchemaTable {
                name: table,
                ..Default::default()
            });
        }
        let t = out.last_mut().expect("just pushed");
        if in_key {
            t.primary_key.push(column.clone());
        }
        t.columns.push((column, type_name));
    }
    Ok(out)
}

/// Orders table names so that every child comes before its parents (Kahn's algorithm over
/// the foreign keys among them). Cycles keep their input order at the end.
pub fn children_first(tables: &[String], fks: &[ForeignKey]) -> Vec<String> {
    let mut remaining: Vec<String> = tables.to_vec();
    let mut ordered = Vec::with_capacity(tables.len());
    while !remaining.is_empty() {
        // A table is ready when no other remaining table is its child.
        let ready = remaining.iter().position(|t| {
            !fks.iter().any(|fk| {
                fk.parent == *t
                    && !fk.child_is(t)
                    && fk.child_schema.is_none()
                    && remaining.contains(&fk.child)
            })
        });
        match ready {
            Some(i) => ordered.push(remaining.remove(i)),
            None => {
                ordered.append(&mut remaining);
            }
        }
    }
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(child: &str, parent: &str) -> ForeignKey {
        ForeignKey {
            child: child.into(),
            child_cols: vec!["p".into()],
            parent: parent.into(),
            parent_cols: vec!["id".into()],
            child_schema: None,
            changes_children: false,
        }
    }

    #[test]
    fn children_come_before_their_parents() {
        let tables: Vec<String> = ["accounts", "order_items", "orders"]
            .map(String::from)
            .to_vec();
        let fks = [fk("orders", "accounts"), fk("order_items", "orders")];
        assert_eq!(
            children_first(&tables, &fks),
            ["order_items", "orders", "accounts"]
        );
    }

    #[test]
    fn a_cycle_does_not_loop_forever() {
        let tables: Vec<String> = ["a", "b"].map(String::from).to_vec();
        let fks = [fk("a", "b"), fk("b", "a")];
        assert_eq!(children_first(&tables, &fks).len(), 2);
    }
}
