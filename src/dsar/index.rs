//! The index check that keeps one erasure fast: a subject column without an index makes
//! every erasure request scan its whole table. `check --connect` prints these warnings.

use crate::rules::{SubjectColumn, Target};
use crate::stores::sql::catalog;
use crate::workspace::Workspace;

/// One warning per subject column (or `via` hop column) that no index starts with.
/// Targets whose tables cannot be read are left to the rest of `check --connect`.
pub async fn subject_index_warnings(ws: &Workspace) -> Vec<String> {
    let mut out = Vec::new();
    for rule in &ws.rules.rules {
        for (i, target) in rule.targets.iter().enumerate() {
            let Target::Table(t) = target else { continue };
            let Some(pool) = ws.sql.get(&t.store) else {
                continue;
            };
            let place = format!(
                "{}: targets[{i}] ({}/{})",
                rule.file.display(),
                t.store,
                t.table
            );
            let Ok(Some(info)) = catalog::table(pool, t.table.as_str()).await else {
                continue;
            };
            match &t.subject {
                None => {}
                Some(SubjectColumn::Column(c))
                    if info.column(c.as_str()).is_some() && !info.is_indexed(c.as_str()) =>
                {
                    out.push(format!(
                        "{place}: subject: column `{c}` has no index; every erasure request scans `{}` (CREATE INDEX ON {} ({c}))",
                        t.table, t.table
                    ));
                }
                Some(SubjectColumn::Column(_)) => {}
                Some(SubjectColumn::Via {
                    column,
                    table,
                    key,
                    subject,
                }) => {
                    if info.column(column.as_str()).is_some() && !info.is_indexed(column.as_str()) {
                        out.push(format!(
                            "{place}: subject.column: column `{column}` has no index; every erasure request scans `{}` (CREATE INDEX ON {} ({column}))",
                            t.table, t.table
                        ));
                    }
                    let Ok(Some(parent)) = catalog::table(pool, table.as_str()).await else {
                        continue;
                    };
                    for (c, what) in [(subject, "subject.via.subject"), (key, "subject.via.key")] {
                        if parent.column(c.as_str()).is_some() && !parent.is_indexed(c.as_str()) {
                            out.push(format!(
                                "{place}: {what}: column `{table}.{c}` has no index; every erasure request scans `{table}` (CREATE INDEX ON {table} ({c}))"
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}
