//! `retention coverage` through the binary, on two real schemas nobody here designed
//! (`tests/fixtures/coverage-chinook` on PostgreSQL and SQLite, `coverage-sakila` on
//! MariaDB), with rules that cover part of each: a personal table without a rule is
//! reported with why and a suggested category, a covered one is not, a column an
//! anonymising rule leaves is reported, a text column whose name gives nothing away is
//! found by its sampled values, and no sampled value, email or phone number of the data
//! appears in any format. Also the plan's "Not covered by any rule" section, folders of
//! objects under no rule (a directory and an S3 bucket), and that coverage changes
//! nothing.

use crate::support::cli::{retention, write_files, Run};
use crate::support::db::{Db, TestDb, APP_CONFIG};
use serde_json::Value;
use std::path::Path;

/// Loads `tests/fixtures/<name>/{schema,data}.sql`.
async fn load(db: &TestDb, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    for file in ["schema.sql", "data.sql"] {
        let sql = std::fs::read_to_string(dir.join(file)).expect("the fixture is readable");
        // Comments may hold `;`, which `exec` splits statements on.
        let sql: String = sql
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .map(|l| format!("{l}\n"))
            .collect();
        db.exec(&sql).await;
    }
}

/// A sandbox with the app config and `rules`, and the database URL in `APP_URL`.
struct Setup {
    dir: tempfile::TempDir,
    url: String,
}

impl Setup {
    fn new(db: &TestDb, config: &str, rules: &[(&str, &str)]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        write_files(dir.path(), &[("retention.yaml", config)]);
        std::fs::create_dir_all(dir.path().join("rules")).unwrap();
        let files: Vec<(String, &str)> = rules
            .iter()
            .map(|(n, t)| (format!("rules/{n}.yaml"), *t))
            .collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        write_files(dir.path(), &refs);
        Setup {
            dir,
            url: db.url.clone(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        retention(self.dir.path(), args, &[("APP_URL", &self.url)])
    }

    /// `coverage` in every format; returns the JSON and every output, text first.
    fn every_format(&self) -> (Value, Vec<String>) {
        let text = self.run(&["coverage"]).expect_code(0).stdout;
        let json = self
            .run(&["coverage", "--format", "json"])
            .expect_code(0)
            .stdout;
        let mut outputs = vec![text, json.clone()];
        for format in ["md", "html"] {
            let out = self.dir.path().join(format!("coverage.{format}"));
            let run = self.run(&[
                "coverage",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ]);
            let run = run.expect_code(0);
            assert!(run.stdout.is_empty(), "--out writes nothing to stdout");
            outputs.push(std::fs::read_to_string(out).unwrap());
        }
        (
            serde_json::from_str(&json).expect("coverage --format json is JSON"),
            outputs,
        )
    }
}

/// `(table, column)` → the finding, from the JSON.
fn finding<'a>(v: &'a Value, table: &str, column: &str) -> Option<&'a Value> {
    v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["table"] == table && f["column"] == column)
}

fn tables(v: &Value) -> Vec<String> {
    let mut t: Vec<String> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["table"].as_str().unwrap().to_owned())
        .collect();
    t.dedup();
    t
}

/// Every value of the personal columns of the fixture, to prove none is printed.
async fn personal_values(db: &TestDb, queries: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for q in queries {
        // Values too short to be told apart from other text (an empty address line) are
        // left out of the check.
        out.extend(
            db.texts(q)
                .await
                .into_iter()
                .flatten()
                .filter(|v| v.trim().len() >= 5),
        );
    }
    assert!(out.len() > 20, "the fixture has personal values to leak");
    out
}

fn assert_no_value_leaks(outputs: &[String], values: &[String]) {
    for out in outputs {
        for v in values {
            assert!(
                !out.contains(v.as_str()),
                "a value of the data leaked: {v}\n{out}"
            );
        }
    }
}

const CHINOOK_RULES: &[(&str, &str)] = &[
    (
        "customers",
        "category: customers
description: Customer accounts of the store
source: \"Chinook privacy notice, 'Your account'\"
retain: forever
on_erasure: delete
targets:
  - {store: app, table: customer, key: [customer_id], subject: customer_id}
",
    ),
    (
        "invoices",
        "category: invoices
description: Invoices with the billing address
source: \"Chinook privacy notice, 'Purchases'\"
retain: 7y
on_expiry: delete
on_erasure: keep
keep_reason: Tax law keeps invoices for seven years.
targets:
  - {store: app, table: invoice, key: [invoice_id], timestamp: invoice_date, subject: customer_id}
",
    ),
];

async fn chinook(kind: Db) {
    let db = TestDb::fresh(kind).await;
    load(&db, "coverage-chinook").await;
    // A column whose name gives nothing away but holds emails: the customers' own, copied
    // into the playlists they curate. Only its sampled values can tell.
    db.exec(
        "ALTER TABLE playlist ADD COLUMN curator VARCHAR(60);
         UPDATE playlist SET curator = (SELECT email FROM customer WHERE customer.customer_id = playlist.playlist_id)",
    )
    .await;
    if kind == Db::Postgres {
        // PostgreSQL's own type for addresses: found by the catalog type, not the name.
        db.exec("ALTER TABLE employee ADD COLUMN workstation inet; UPDATE employee SET workstation = '10.0.0.1'").await;
    }
    let s = Setup::new(&db, APP_CONFIG, CHINOOK_RULES);
    let before = db.checksum().await;
    let (v, outputs) = s.every_format();
    assert_eq!(db.checksum().await, before, "coverage changed the database");

    // Personal data under no rule: employees (names, birth date, address, phone, email),
    // and the lines of invoices (a foreign key to invoices, which hold addresses).
    for (column, kind) in [
        ("first_name", "name"),
        ("last_name", "name"),
        ("birth_date", "birth_date"),
        ("address", "address"),
        ("postal_code", "address"),
        ("phone", "phone"),
        ("fax", "phone"),
        ("email", "email"),
    ] {
        let f = finding(&v, "employee", column)
            .unwrap_or_else(|| panic!("employee.{column} not reported: {v:#}"));
        assert_eq!(f["kind"], kind, "{f}");
        assert_eq!(f["gap"], "no_rule");
        assert_eq!(f["evidence"]["by"], "name");
        assert_eq!(
            f["suggested_category"],
            if kind == "address" {
                "delivery"
            } else {
                "account"
            }
        );
    }
    let reports_to = finding(&v, "employee", "reports_to").expect("employee.reports_to");
    assert_eq!(reports_to["kind"], "person_link");
    assert_eq!(reports_to["evidence"]["by"], "foreign_key");
    assert_eq!(reports_to["evidence"]["references"], "employee");
    let line = finding(&v, "invoice_line", "invoice_id").expect("invoice_line.invoice_id");
    assert_eq!(line["evidence"]["references"], "invoice");
    assert_eq!(line["suggested_category"], "invoices");
    let curator = finding(&v, "playlist", "curator").expect("playlist.curator found by its values");
    assert_eq!(curator["kind"], "email");
    assert_eq!(
        curator["evidence"],
        serde_json::json!({"by": "values", "matched": 5, "sampled": 5})
    );
    assert_eq!(
        curator["why"],
        "5 of 5 sampled values look like email addresses"
    );
    if kind == Db::Postgres {
        let ws = finding(&v, "employee", "workstation").expect("an inet column");
        assert_eq!(
            ws["evidence"],
            serde_json::json!({"by": "type", "type_name": "inet"})
        );
    }
    // Covered tables, and tables of no one, are not reported.
    let mut found = tables(&v);
    found.sort();
    let mut want = vec!["employee", "invoice_line", "playlist"];
    want.sort();
    assert_eq!(found, want, "{v:#}");
    let sql = &v["stores"][0];
    assert_eq!(sql["tables"], 11);
    assert_eq!(sql["covered_tables"], 2);
    assert!(v["problems"].as_array().unwrap().is_empty(), "{v:#}");

    let values = personal_values(
        &db,
        &[
            "SELECT email FROM customer",
            "SELECT phone FROM customer",
            "SELECT email FROM employee",
            "SELECT phone FROM employee",
            "SELECT address FROM employee",
            "SELECT curator FROM playlist",
        ],
    )
    .await;
    assert_no_value_leaks(&outputs, &values);
    for out in &outputs {
        assert!(out.contains("employee"), "{out}");
        assert!(
            !out.contains("genre"),
            "a table of no one was reported: {out}"
        );
    }
}

const SAKILA_RULES: &[(&str, &str)] = &[
    (
        "customers",
        "category: customers
description: Customers of the rental store
source: \"Sakila privacy notice, 'Customers'\"
retain: 3y
on_expiry: delete
on_erasure: anonymise
targets:
  - store: app
    table: customer
    key: [customer_id]
    timestamp: create_date
    subject: customer_id
    anonymise: {email: null, first_name: {replace: erased}}
",
    ),
    (
        "rentals",
        "category: rentals
description: Rentals and payments
source: \"Sakila privacy notice, 'Rentals'\"
retain: 7y
on_expiry: delete
on_erasure: keep
keep_reason: Bookkeeping law keeps payments for seven years.
targets:
  - {store: app, table: payment, key: [payment_id], timestamp: payment_date, subject: customer_id}
  - {store: app, table: rental, key: [rental_id], timestamp: rental_date, subject: customer_id}
",
    ),
];

async fn sakila(kind: Db) {
    let db = TestDb::fresh(kind).await;
    load(&db, "coverage-sakila").await;
    let s = Setup::new(&db, APP_CONFIG, SAKILA_RULES);
    let before = db.checksum().await;
    let (v, outputs) = s.every_format();
    assert_eq!(db.checksum().await, before, "coverage changed the database");

    // Staff, their addresses and the actors have no rule.
    for (table, column, kind) in [
        ("staff", "email", "email"),
        ("staff", "first_name", "name"),
        ("staff", "username", "account"),
        ("staff", "picture", "photo"),
        ("address", "address", "address"),
        ("address", "address2", "address"),
        ("address", "phone", "phone"),
        ("address", "postal_code", "address"),
        ("actor", "last_name", "name"),
    ] {
        let f = finding(&v, table, column).unwrap_or_else(|| panic!("{table}.{column}: {v:#}"));
        assert_eq!(f["kind"], kind, "{f}");
        assert_eq!(f["gap"], "no_rule");
    }
    assert_eq!(
        finding(&v, "address", "phone").unwrap()["suggested_category"],
        "delivery"
    );
    // The store's manager is a person: named like one, and a foreign key to staff.
    let manager = finding(&v, "store", "manager_staff_id").expect("store.manager_staff_id");
    assert_eq!(manager["evidence"]["references"], "staff");
    // The customer rule anonymises email and first name on erasure, and leaves the rest.
    let last = finding(&v, "customer", "last_name").expect("customer.last_name");
    assert_eq!(last["gap"], "left_by_anonymisation");
    assert_eq!(last["category"], "customers");
    assert!(
        finding(&v, "customer", "email").is_none(),
        "anonymised, so covered"
    );
    assert!(finding(&v, "customer", "first_name").is_none());
    assert!(
        finding(&v, "payment", "customer_id").is_none(),
        "payment has a rule"
    );
    for t in [
        "film",
        "category",
        "language",
        "inventory",
        "film_category",
        "country",
        "city",
    ] {
        assert!(
            !tables(&v).contains(&t.to_owned()),
            "{t} holds nobody's data: {v:#}"
        );
    }
    let text = &outputs[0];
    assert!(
        text.contains("rule customers anonymises the row but leaves it"),
        "{text}"
    );
    let values = personal_values(
        &db,
        &[
            "SELECT email FROM customer",
            "SELECT email FROM staff",
            "SELECT phone FROM address",
            "SELECT address FROM address",
            "SELECT CAST(password AS CHAR) FROM staff",
        ],
    )
    .await;
    assert_no_value_leaks(&outputs, &values);
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn chinook_personal_tables_without_a_rule_are_found_and_covered_ones_are_not() {
        chinook(Db::Postgres).await
    }
}

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn chinook_personal_tables_without_a_rule_are_found_and_covered_ones_are_not() {
        chinook(Db::Sqlite).await
    }
}

mod mariadb {
    use super::*;

    #[tokio::test]
    async fn sakila_personal_tables_without_a_rule_are_found_and_covered_ones_are_not() {
        sakila(Db::MySql).await
    }
}

/// Objects: a directory store whose `photos/` has a rule and whose `avatars/` and
/// per-user folders do not; an S3 bucket the same way. Folder names with digits are
/// withheld, and no object key appears.
#[tokio::test]
async fn folders_of_objects_under_no_rule_are_reported_by_folder_only() {
    use crate::support::s3::{Bucket, BucketKind};
    let db = TestDb::fresh(Db::Sqlite).await;
    let bucket = Bucket::new(BucketKind::default()).await;
    for key in [
        "photos/1042/a.jpg",
        "photos/1043/b.jpg",
        "avatars/ada-lovelace.png",
        "avatars/grace-hopper.png",
        "exports/1042/dump.json",
        "readme.txt",
    ] {
        bucket.put(key, b"x".to_vec(), &[], &[]).await;
    }
    let config = APP_CONFIG.replace(
        "stores:\n",
        &format!(
            "stores:\n  files: {{dir: ./files}}\n  media:\n    s3: {{bucket: {}, region: us-east-1, endpoint: \"{}\", path_style: true}}\n",
            bucket.name,
            crate::support::s3::endpoint()
        ),
    );
    assert!(config.contains("files:"), "{config}");
    let rule = "category: photos
description: Photos
source: \"Privacy notice, 'Photos'\"
retain: 90d
on_expiry: delete
targets:
  - {store: files, prefix: photos/, timestamp: last_modified}
  - {store: media, prefix: photos/, timestamp: last_modified}
";
    let s = Setup::new(&db, &config, &[("photos", rule)]);
    for key in [
        "photos/1042/a.jpg",
        "avatars/ada-lovelace.png",
        "avatars/grace-hopper.png",
        "crash-dumps/2024/x.bin",
        "1042/notes.txt",
    ] {
        write_files(&s.dir.path().join("files"), &[(key, "x")]);
    }
    let (v, outputs) = s.every_format();
    let prefixes: Vec<(String, String, u64)> = v["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["store"].as_str().unwrap().to_owned(),
                p["prefix"].as_str().unwrap().to_owned(),
                p["objects"].as_u64().unwrap(),
            )
        })
        .collect();
    let withheld = retention::coverage::objects::WITHHELD.to_owned();
    let top = retention::coverage::objects::TOP_LEVEL.to_owned();
    assert_eq!(
        prefixes,
        vec![
            ("files".into(), withheld.clone(), 1),
            ("files".into(), "avatars/".into(), 2),
            ("files".into(), "crash-dumps/".into(), 1),
            ("media".into(), top, 1),
            ("media".into(), "avatars/".into(), 2),
            ("media".into(), "exports/".into(), 1),
        ],
        "{v:#}"
    );
    let crash = v["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prefix"] == "crash-dumps/")
        .unwrap();
    assert_eq!(crash["suggested_category"], "crash_reports");
    for out in &outputs {
        for key in ["ada-lovelace", "1042", "dump.json", "notes.txt", "readme"] {
            assert!(!out.contains(key), "an object key leaked ({key}):\n{out}");
        }
    }
}

/// The plan's md and html reports carry the "Not covered by any rule" section, from the
/// same survey.
#[tokio::test]
async fn the_plan_reports_say_what_no_rule_covers() {
    let db = TestDb::fresh(Db::Sqlite).await;
    load(&db, "coverage-chinook").await;
    let s = Setup::new(&db, APP_CONFIG, CHINOOK_RULES);
    s.run(&["migrate"]).expect_code(0);
    let md = s.run(&["plan", "--format", "md"]).expect_code(0).stdout;
    assert!(md.contains("## Not covered by any rule"), "{md}");
    assert!(
        md.contains(
            "| `app/employee` | `email` | email addresses | its name (email) | no rule | account |"
        ),
        "{md}"
    );
    assert!(!md.contains("`app/customer`"), "{md}");
    let html = s.run(&["plan", "--format", "html"]).expect_code(0).stdout;
    assert!(html.contains("<h2>Not covered by any rule</h2>"));
    assert!(html.contains("<code>app/employee</code>"));
}
