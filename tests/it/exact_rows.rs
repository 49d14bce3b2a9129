//! Exactly the right rows, on schemas shaped like real ones, through the binary (issue 12):
//! partitioned and inherited tables (where a row's physical address repeats between
//! partitions), foreign keys declared on partitions, NULL subjects while a hold is in
//! force, the guard counting locked rows, `erase` as documented, `plan` before `migrate`,
//! and `check --connect` refusing relations and keys a batch cannot address.
//!
//! The expected rows are computed with plain SQL over the data before the run (the
//! oracle), and compared as key sets with what is left after it.

use crate::support::case::Case;
use crate::support::db::Db;
use chrono::{Duration, Utc};

const PAYMENTS: &str = "category: payments
description: Payment records
source: \"Privacy Policy, 'Orders'\"
retain: 365d
on_expiry: delete
targets:
  - store: app
    table: payments
    key: [id, paid_at]
    timestamp: paid_at
    subject: account_id
";

const EVENTS: &str = "category: events
description: Device events
source: \"Privacy Policy, 'Log information'\"
retain: 365d
on_expiry: anonymise
on_erasure: anonymise
targets:
  - store: app
    table: device_events
    key: [id, seen_at]
    timestamp: seen_at
    subject: account_id
    anonymise: {ip: null}
    marker: anonymised_at
";

/// Range partitions 200 days wide back to 1,000 days ago, the oldest partition first,
/// plus one for everything newer; every partition's rows start at the same physical
/// addresses.
fn partitions(db: Db, table: &str) -> String {
    let bounds: Vec<String> = (1..=5).rev().map(|i| db.days_ago(i * 200)).collect();
    let mut sql = String::new();
    match db {
        Db::Postgres => {
            let mut lo = "MINVALUE".to_owned();
            for (i, b) in bounds.iter().enumerate() {
                sql += &format!(
                    "CREATE TABLE {table}_p{i} PARTITION OF {table} FOR VALUES FROM ({lo}) TO ({b});\n"
                );
                lo = b.clone();
            }
            sql += &format!("CREATE TABLE {table}_now PARTITION OF {table} DEFAULT;\n");
        }
        Db::MySql => {
            let parts: Vec<String> = bounds
                .iter()
                .enumerate()
                .map(|(i, b)| format!("PARTITION p{i} VALUES LESS THAN ({b})"))
                .chain(["PARTITION pnow VALUES LESS THAN (MAXVALUE)".to_owned()])
                .collect();
            sql += &format!(
                "ALTER TABLE {table} PARTITION BY RANGE COLUMNS({}) ({});\n",
                if table == "payments" {
                    "paid_at"
                } else {
                    "seen_at"
                },
                parts.join(", ")
            );
        }
        Db::Sqlite => unreachable!("SQLite has no partitions"),
    }
    sql
}

/// 7,000 payments and 7,000 events over 700 days, every 13th without a subject, ten
/// subjects, each row half a day off a whole day so none lies near a cutoff.
async fn partitioned_case(db: Db) -> Case {
    let case = Case::new(db, &[("payments.yaml", PAYMENTS), ("events.yaml", EVENTS)]).await;
    let ts = if db == Db::Postgres {
        "TIMESTAMPTZ"
    } else {
        "DATETIME"
    };
    let partitioned = |c: &str| match db {
        Db::Postgres => format!(" PARTITION BY RANGE ({c})"),
        _ => String::new(),
    };
    case.db
        .exec(&format!(
            "CREATE TABLE payments (id BIGINT NOT NULL, account_id BIGINT, paid_at {ts} NOT NULL,
               amount DECIMAL(10, 2), PRIMARY KEY (id, paid_at)){};
             CREATE TABLE device_events (id BIGINT NOT NULL, account_id BIGINT, seen_at {ts} NOT NULL,
               ip VARCHAR(45), anonymised_at {ts} NULL, PRIMARY KEY (id, seen_at)){}",
            partitioned("paid_at"),
            partitioned("seen_at")
        ))
        .await;
    case.db.exec(&partitions(db, "payments")).await;
    case.db.exec(&partitions(db, "device_events")).await;
    let subject = |i: i64| match i % 13 {
        0 => "NULL".to_owned(),
        _ => (i % 10).to_string(),
    };
    let when = |i: i64| {
        let t = Utc::now() - Duration::days(i % 700) - Duration::hours(12);
        match db {
            Db::MySql => format!("'{}'", t.format("%Y-%m-%d %H:%M:%S")),
            _ => format!("'{}'", t.to_rfc3339()),
        }
    };
    for chunk in (1..=7_000i64).collect::<Vec<_>>().chunks(1_000) {
        let p: Vec<String> = chunk
            .iter()
            .map(|&i| format!("({i}, {}, {}, {i}.50)", subject(i), when(i)))
            .collect();
        let e: Vec<String> = chunk
            .iter()
            .map(|&i| {
                format!(
                    "({i}, {}, {}, '203.0.113.{}', NULL)",
                    subject(i),
                    when(i),
                    i % 250
                )
            })
            .collect();
        case.db
            .exec(&format!(
                "INSERT INTO payments VALUES {}; INSERT INTO device_events VALUES {}",
                p.join(", "),
                e.join(", ")
            ))
            .await;
    }
    case
}

/// Ids in order, as the oracle and the result are compared.
async fn ids(case: &Case, sql: &str) -> Vec<String> {
    case.column(sql).await.into_iter().flatten().collect()
}

/// Expiry and erasure on a partitioned table delete and anonymise exactly the rows the
/// oracle names: none of a held subject, none fresh, every expired one without a subject.
async fn a_partitioned_table_changes_exactly_the_selected_rows(db: Db) {
    let case = partitioned_case(db).await;
    let cutoff = db.days_ago(365);
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "7", "--reason", "litigation"],
        0,
    );
    let keep = ids(
        &case,
        &format!(
            "SELECT CAST(id AS CHAR(20)) FROM payments WHERE NOT (paid_at < {cutoff}
               AND (account_id IS NULL OR account_id <> 7)) ORDER BY id"
        )
        .replace(
            "CHAR(20)",
            if db == Db::Postgres {
                "TEXT"
            } else {
                "CHAR(20)"
            },
        ),
    )
    .await;
    let anonymise = ids(
        &case,
        &format!(
            "SELECT CAST(id AS CHAR(20)) FROM device_events WHERE seen_at < {cutoff}
               AND (account_id IS NULL OR account_id <> 7) ORDER BY id"
        )
        .replace(
            "CHAR(20)",
            if db == Db::Postgres {
                "TEXT"
            } else {
                "CHAR(20)"
            },
        ),
    )
    .await;
    assert!(keep.len() > 2_000 && anonymise.len() > 2_000);
    let as_text = if db == Db::Postgres {
        "TEXT"
    } else {
        "CHAR(20)"
    };
    case.expect(&["run"], 0);
    assert_eq!(
        ids(
            &case,
            &format!("SELECT CAST(id AS {as_text}) FROM payments ORDER BY id")
        )
        .await,
        keep,
        "the payments left are exactly those the oracle keeps"
    );
    assert_eq!(
        ids(
            &case,
            &format!(
                "SELECT CAST(id AS {as_text}) FROM device_events WHERE ip IS NULL ORDER BY id"
            )
        )
        .await,
        anonymise,
        "the events anonymised are exactly those the oracle names"
    );
    // Erasing one subject touches that subject's rows only.
    let others = ids(
        &case,
        &format!(
            "SELECT CAST(id AS {as_text}) FROM payments WHERE account_id IS NULL OR account_id <> 3 ORDER BY id"
        ),
    )
    .await;
    case.expect(&["erase", "--subject", "3", "--ticket", "DSAR-3"], 0);
    assert_eq!(
        ids(
            &case,
            &format!("SELECT CAST(id AS {as_text}) FROM payments ORDER BY id")
        )
        .await,
        others
    );
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM device_events WHERE account_id = 3 AND ip IS NOT NULL")
            .await,
        0
    );
    assert!(
        case.db
            .count("SELECT COUNT(*) FROM device_events WHERE account_id <> 3 AND ip IS NOT NULL")
            .await
            > 2_000,
        "other subjects' fresh events keep their addresses"
    );
    case.expect(&["audit", "verify"], 0);
}

#[tokio::test]
async fn a_partitioned_postgres_table_changes_exactly_the_selected_rows() {
    a_partitioned_table_changes_exactly_the_selected_rows(Db::Postgres).await;
}

#[tokio::test]
async fn a_partitioned_mariadb_table_changes_exactly_the_selected_rows() {
    a_partitioned_table_changes_exactly_the_selected_rows(Db::MySql).await;
}

/// Table inheritance: the parent's rows and its children's share physical addresses and
/// may even share key values; a run deletes exactly the expired rows of each.
#[tokio::test]
async fn an_inherited_postgres_table_changes_exactly_the_selected_rows() {
    let rule = "category: logs
description: Logs
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: logs
    key: [id]
    timestamp: at
    subject: account_id
";
    let case = Case::new(Db::Postgres, &[("logs.yaml", rule)]).await;
    case.db
        .exec(
            "CREATE TABLE logs (id BIGINT PRIMARY KEY, account_id BIGINT, at TIMESTAMPTZ NOT NULL);
             CREATE TABLE logs_archive (PRIMARY KEY (id)) INHERITS (logs);
             INSERT INTO logs SELECT g, g % 5, now() - (g % 60) * interval '1 day' - interval '12 hours' FROM generate_series(1, 600) g;
             INSERT INTO logs_archive SELECT g, g % 5, now() - ((g + 17) % 60) * interval '1 day' - interval '12 hours' FROM generate_series(1, 600) g",
        )
        .await;
    let keep = |t: &str| {
        format!("SELECT CAST(id AS TEXT) FROM ONLY {t} WHERE at >= now() - interval '30 days' ORDER BY id")
    };
    let (parent, child) = (
        ids(&case, &keep("logs")).await,
        ids(&case, &keep("logs_archive")).await,
    );
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    let left = |t: &str| format!("SELECT CAST(id AS TEXT) FROM ONLY {t} ORDER BY id");
    assert_eq!(ids(&case, &left("logs")).await, parent);
    assert_eq!(ids(&case, &left("logs_archive")).await, child);
}

/// The child table is partitioned and its foreign keys are declared on each partition:
/// the run still deletes children before their parents, so one run deletes every expired
/// parent whose children all expired too.
#[tokio::test]
async fn foreign_keys_declared_on_partitions_order_children_before_parents() {
    let accounts = "category: accounts
description: Accounts
source: \"Privacy Policy, 'Creating and maintaining your Mi Account'\"
retain: 365d
on_expiry: delete
targets:
  - store: app
    table: accounts
    key: [id]
    timestamp: created_at
    subject: id
";
    // `a_` sorts before `p`: a run ordered by name alone would try the parents first.
    let case = Case::new(
        Db::Postgres,
        &[("a_accounts.yaml", accounts), ("payments.yaml", PAYMENTS)],
    )
    .await;
    case.db
        .exec(&format!(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL);
             CREATE TABLE payments (id BIGINT NOT NULL, account_id BIGINT, paid_at TIMESTAMPTZ NOT NULL,
               amount NUMERIC(10, 2), PRIMARY KEY (id, paid_at)) PARTITION BY RANGE (paid_at);
             {}",
            partitions(Db::Postgres, "payments")
        ))
        .await;
    let parts = case
        .column("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r' ORDER BY 1")
        .await;
    for p in parts.into_iter().flatten() {
        case.db
            .exec(&format!(
                "ALTER TABLE {p} ADD CONSTRAINT {p}_account FOREIGN KEY (account_id) REFERENCES accounts (id)"
            ))
            .await;
    }
    case.db
        .exec(
            "INSERT INTO accounts SELECT g, now() - interval '800 days' FROM generate_series(1, 300) g;
             INSERT INTO payments SELECT g, g % 300 + 1, now() - (400 + g % 300) * interval '1 day', 1 FROM generate_series(1, 3000) g;
             INSERT INTO payments SELECT 10000 + g, g, now() - interval '10 days', 1 FROM generate_series(1, 20) g",
        )
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run", "--allow-mass-delete"], 0);
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM payments").await,
        20,
        "every expired payment went"
    );
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM accounts").await,
        20,
        "in the same run, every account left without payments went too"
    );
}

const SESSIONS: &str = "category: sessions
description: Login sessions
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: sessions
    key: [id]
    timestamp: started_at
    subject: account_id
";

/// A record whose subject is NULL belongs to nobody: a hold on someone else does not keep
/// it (`NOT IN` with a NULL operand would).
async fn rows_without_a_subject_expire_while_a_hold_is_in_force(db: Db) {
    let case = Case::new(db, &[("sessions.yaml", SESSIONS)]).await;
    let ts = db.timestamp_type();
    let old = match db {
        Db::Sqlite => format!("'{}'", (Utc::now() - Duration::days(90)).to_rfc3339()),
        _ => db.days_ago(90),
    };
    let new = match db {
        Db::Sqlite => format!("'{}'", Utc::now().to_rfc3339()),
        _ => db.days_ago(0),
    };
    case.db
        .exec(&format!(
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT NULL, started_at {ts} NOT NULL);
             INSERT INTO sessions VALUES (1, NULL, {old}), (2, NULL, {old}), (3, 5, {old}), (4, 6, {old}),
               (5, NULL, {new}), (6, 5, {new})"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "5", "--reason", "litigation"],
        0,
    );
    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan["targets"][0]["matched"], 3, "{plan}");
    assert_eq!(plan["targets"][0]["held"], 1, "{plan}");
    case.expect(&["run"], 0);
    let left: Vec<String> = case
        .column("SELECT CAST(id AS CHAR) FROM sessions ORDER BY id")
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(left, ["3", "5", "6"]);
}

/// The guard counts the rows foreign keys block now: they are matched, and a later run
/// deletes them. A `retain: 1d` typo on a parent table is refused, not half-done.
async fn the_guard_counts_rows_that_foreign_keys_block(db: Db) {
    let accounts = "category: accounts
description: Accounts
source: \"Privacy Policy, 'Creating and maintaining your Mi Account'\"
retain: 1d
on_expiry: delete
targets:
  - store: app
    table: accounts
    key: [id]
    timestamp: created_at
    subject: id
";
    let case = Case::new(db, &[("accounts.yaml", accounts)]).await;
    let ts = db.timestamp_type();
    let old = match db {
        Db::Sqlite => format!("'{}'", (Utc::now() - Duration::days(9)).to_rfc3339()),
        _ => db.days_ago(9),
    };
    case.db
        .exec(&format!(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, created_at {ts} NOT NULL);
             CREATE TABLE orders (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts (id))"
        ))
        .await;
    let accounts: Vec<String> = (1..=3_000).map(|i| format!("({i}, {old})")).collect();
    let orders: Vec<String> = (1..=2_500).map(|i| format!("({i}, {i})")).collect();
    case.db
        .exec(&format!(
            "INSERT INTO accounts VALUES {}; INSERT INTO orders VALUES {}",
            accounts.join(", "),
            orders.join(", ")
        ))
        .await;
    case.expect(&["migrate"], 0);
    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let t = &plan["targets"][0];
    assert_eq!(
        (t["matched"].as_u64(), t["locked"].as_u64()),
        (Some(500), Some(2_500))
    );
    assert_eq!(t["guard"], "refused", "{t}");
    case.expect(&["run"], 3);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM accounts").await, 3_000);
}

/// `erase` as SPEC §5 and the Helm chart's Job run it: every form parses, a dry run
/// changes nothing, and the real one erases the subject.
async fn erase_runs_in_every_documented_form(db: Db) {
    let accounts = "category: accounts
description: Accounts
source: \"Privacy Policy, 'Creating and maintaining your Mi Account'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: accounts
    key: [id]
    subject: id
";
    let case = Case::new(db, &[("accounts.yaml", accounts)]).await;
    case.db
        .exec(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email VARCHAR(100), phone VARCHAR(30));
             INSERT INTO accounts VALUES (1, 'a@example.test', '+15550001'), (2, 'b@example.test', '+15550002'),
               (3, 'c@example.test', '+15550003'), (4, 'd@example.test', '+15550004')",
        )
        .await;
    let config = std::fs::read_to_string(case.dir.path().join("retention.yaml")).unwrap();
    std::fs::write(
        case.dir.path().join("retention.yaml"),
        config
            + "subjects:\n  lookup: {store: app, table: accounts, key: id, by: [email, phone]}\n",
    )
    .unwrap();
    case.expect(&["migrate"], 0);
    let before = case.db.checksum_of(&["accounts"]).await;
    for args in [
        &["erase", "--subject", "1", "--ticket", "T-1", "--dry-run"][..],
        &[
            "erase",
            "--email",
            "b@example.test",
            "--ticket",
            "T-2",
            "--dry-run",
        ],
        &[
            "erase",
            "--phone",
            "+15550003",
            "--ticket",
            "T-3",
            "--dry-run",
        ],
    ] {
        let out = case.expect(args, 0);
        assert!(out.stdout.contains("accounts"), "{}", out.stdout);
    }
    assert_eq!(case.db.checksum_of(&["accounts"]).await, before);
    case.expect(&["erase", "--subject", "1", "--ticket", "T-1"], 0);
    case.expect(
        &["erase", "--email", "b@example.test", "--ticket", "T-2"],
        0,
    );
    case.expect(&["erase", "--phone", "+15550003", "--ticket", "T-3"], 0);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM accounts").await, 1);
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM accounts WHERE id = 4")
            .await,
        1
    );
    // Whom to erase is said exactly once, and a ticket is always needed.
    for bad in [
        &["erase", "--ticket", "T-9"][..],
        &[
            "erase",
            "--subject",
            "4",
            "--email",
            "d@example.test",
            "--ticket",
            "T-9",
        ],
        &["erase", "--subject", "4"],
    ] {
        let out = case.expect(bad, 2);
        assert!(out.stderr.contains("Usage"), "{}", out.stderr);
    }
}

/// The first thing a compliance officer runs is `plan`: it works before `migrate`,
/// writes nothing, and says that no holds or requests exist yet.
async fn plan_works_before_migrate_and_writes_nothing(db: Db) {
    let case = Case::new(db, &[("sessions.yaml", SESSIONS)]).await;
    let ts = db.timestamp_type();
    case.db
        .exec(&format!(
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT, started_at {ts} NOT NULL)"
        ))
        .await;
    let before = case.db.checksum().await;
    for args in [
        &["plan"][..],
        &["plan", "--format", "json"],
        &["run", "--dry-run"],
        &["erase", "--subject", "1", "--ticket", "T-1", "--dry-run"],
    ] {
        let out = case.expect(args, 0);
        let said = out.stdout.clone() + &out.stderr;
        assert!(said.contains("retention migrate"), "{args:?}: {said}");
    }
    assert_eq!(case.db.checksum().await, before, "nothing was written");
}

/// A SQLite path with a typo is an error, not a new empty database.
#[tokio::test]
async fn a_sqlite_file_that_does_not_exist_is_an_error_and_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    crate::support::cli::write_files(
        dir.path(),
        &[
            ("retention.yaml", crate::support::db::APP_CONFIG),
            ("rules/sessions.yaml", SESSIONS),
        ],
    );
    let typo = dir.path().join("sesions.db");
    let url = format!("sqlite://{}", typo.display());
    for args in [
        &["plan"][..],
        &["run"],
        &["check", "--connect"],
        &["hold", "list"],
    ] {
        let out = crate::support::cli::retention(dir.path(), args, &[("APP_URL", &url)]);
        assert_ne!(out.code, 0, "{args:?}");
        assert!(
            out.stderr.contains("does not exist"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    crate::support::cli::retention(dir.path(), &["migrate"], &[("APP_URL", &url)]).expect_code(0);
    assert!(typo.exists(), "migrate creates the state store");
}

/// `check --connect` refuses what a batch cannot address: a view, and a key that is
/// neither the primary key nor a unique NOT NULL key — naming file, line and field.
async fn check_connect_refuses_a_view_and_a_key_that_names_no_single_row(db: Db) {
    let rule = |n: usize, table: &str, key: &str| {
        format!(
            "category: c{n}
description: Login sessions
source: \"Privacy Policy, 'Log information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: {table}
    key: [{key}]
    timestamp: started_at
"
        )
    };
    let files = [
        rule(0, "recent_sessions", "id"),
        rule(1, "sessions", "account_id"),
        rule(2, "sessions", "token"),
        rule(3, "sessions", "code"),
    ];
    let names: Vec<String> = (0..4).map(|n| format!("c{n}.yaml")).collect();
    let rules: Vec<(&str, &str)> = names
        .iter()
        .zip(&files)
        .map(|(n, f)| (n.as_str(), f.as_str()))
        .collect();
    let case = Case::new(db, &rules).await;
    let ts = db.timestamp_type();
    case.db
        .exec(&format!(
            "CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT, token VARCHAR(40) NOT NULL UNIQUE,
               code VARCHAR(40) NULL UNIQUE, started_at {ts} NOT NULL);
             CREATE VIEW recent_sessions AS SELECT * FROM sessions"
        ))
        .await;
    let out = case.expect(&["check", "--connect"], 2);
    let at = |n: usize, line: usize, field: &str| {
        let file = case.dir.path().join(format!("rules/c{n}.yaml"));
        format!("{}:{line}: targets[0].{field}: ", file.display())
    };
    assert!(
        out.stderr
            .contains(&(at(0, 8, "table") + "`recent_sessions` is a view")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&at(1, 9, "key")), "{}", out.stderr);
    assert!(
        !out.stderr.contains("c2.yaml"),
        "a unique NOT NULL key is a key: {}",
        out.stderr
    );
    assert!(out.stderr.contains(&at(3, 9, "key")), "{}", out.stderr);
    // A run refuses the same targets before their first batch, and changes nothing.
    case.expect(&["migrate"], 0);
    let before = case.db.checksum_of(&["sessions"]).await;
    let run = case.run(&["run"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(case.db.checksum_of(&["sessions"]).await, before);
}

const COMMENTS: &str = "category: comments
description: Comments
source: \"Privacy Policy, 'Community'\"
retain: 30d
on_expiry: delete
on_erasure: delete
allow_mass_delete: true
targets:
  - store: app
    table: comments
    key: [id]
    timestamp: created_at
    subject: author
";

/// A table whose foreign key refers to itself (replies to comments). Expiry: an expired
/// comment goes once no comment that stays refers to it — its expired replies go first,
/// in the same run (a generation a round) — and one a fresh reply refers to stays,
/// counted as locked; a row that refers only to itself goes (on MariaDB it stays, locked:
/// InnoDB refuses that delete). Erasure: a subject's comment that only the subject's own
/// replies refer to goes with them, in one erasure. Compared with an SQL oracle taken to
/// its fixed point (before, every delete of a referenced row failed the target).
async fn a_table_that_refers_to_itself_keeps_what_its_rows_refer_to(db: Db) {
    let case = Case::new(db, &[("comments.yaml", COMMENTS)]).await;
    let ts = db.timestamp_type();
    case.db
        .exec(&format!(
            "CREATE TABLE comments (id BIGINT PRIMARY KEY, author BIGINT NULL, parent_id BIGINT NULL,
               created_at {ts} NOT NULL, FOREIGN KEY (parent_id) REFERENCES comments (id))"
        ))
        .await;
    // Expiry: 1 old <- 2 old <- 8 old (a thread); 3 old <- 4 fresh; 5 old refers to
    // itself; 6 old, alone; 7 fresh. Erasure of 42: 10 <- 11 (both 42's), 12 is 43's.
    let (old, fresh) = (db.days_ago(90), db.days_ago(1));
    for (id, author, parent, at) in [
        (1, 1, "NULL", &old),
        (2, 2, "1", &old),
        (8, 8, "2", &old),
        (3, 3, "NULL", &old),
        (4, 4, "3", &fresh),
        (5, 5, "NULL", &old),
        (6, 6, "NULL", &old),
        (7, 7, "NULL", &fresh),
        (10, 42, "NULL", &fresh),
        (11, 42, "10", &fresh),
        (12, 43, "NULL", &fresh),
    ] {
        case.db
            .exec(&format!(
                "INSERT INTO comments VALUES ({id}, {author}, {parent}, {at})"
            ))
            .await;
    }
    case.db
        .exec("UPDATE comments SET parent_id = 5 WHERE id = 5")
        .await;
    case.expect(&["migrate"], 0);
    let text = if db == Db::Postgres {
        "TEXT"
    } else {
        "CHAR(20)"
    };
    let cutoff = match db {
        Db::Postgres => "now() - interval '30 days'",
        Db::MySql => "UTC_TIMESTAMP() - INTERVAL 30 DAY",
        Db::Sqlite => "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 days')",
    };
    // The oracle, one step: an expired row goes when no row that stays refers to it (no
    // other row, on MariaDB). Applied to a copy until nothing more goes.
    let other = if db == Db::MySql {
        ""
    } else {
        "AND c.id <> t.id"
    };
    case.db
        .exec("CREATE TABLE oracle AS SELECT id, parent_id, created_at FROM comments")
        .await;
    loop {
        let goes = ids(
            &case,
            &format!(
                "SELECT CAST(id AS {text}) FROM oracle t WHERE t.created_at < {cutoff}
                   AND NOT EXISTS (SELECT 1 FROM oracle c WHERE c.parent_id = t.id {other})"
            ),
        )
        .await;
        if goes.is_empty() {
            break;
        }
        case.db
            .exec(&format!(
                "UPDATE oracle SET parent_id = NULL WHERE id IN ({0}) AND parent_id IN ({0});
                 DELETE FROM oracle WHERE id IN ({0})",
                goes.join(", ")
            ))
            .await;
    }
    let keep = ids(
        &case,
        &format!("SELECT CAST(id AS {text}) FROM oracle ORDER BY oracle.id"),
    )
    .await;
    let all = format!("SELECT CAST(id AS {text}) FROM comments ORDER BY comments.id");
    let plan: serde_json::Value =
        serde_json::from_str(&case.expect(&["plan", "--format", "json"], 0).stdout).unwrap();
    let t = &plan["targets"][0];
    // The plan counts one step: rows free now (6, 8, and 5 but on MariaDB), rows referred
    // to now (1, 2, 3, and 5 on MariaDB).
    let (matched, locked) = if db == Db::MySql { (2, 4) } else { (3, 3) };
    assert_eq!(
        (t["matched"].as_u64(), t["locked"].as_u64()),
        (Some(matched), Some(locked)),
        "{plan}"
    );
    case.expect(&["run"], 0);
    assert_eq!(ids(&case, &all).await, keep, "one run, to the fixed point");
    let mut left = vec!["3", "4"];
    if db == Db::MySql {
        left.push("5");
    }
    left.extend(["7", "10", "11", "12"]);
    assert_eq!(ids(&case, &all).await, left);

    let erased = case.expect(&["erase", "--subject", "42", "--ticket", "T-42"], 0);
    assert!(
        !erased.stdout.contains("partial") && !erased.stdout.contains("locked  1"),
        "{}",
        erased.stdout
    );
    left.retain(|id| !["10", "11"].contains(id));
    assert_eq!(
        ids(&case, &all).await,
        left,
        "both of 42's comments, one erasure"
    );
    case.expect(&["audit", "verify"], 0);
}

const ACCOUNTS: &str = "category: accounts
description: Closed accounts
source: \"Privacy Policy, 'Account data'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: accounts
    key: [id]
    timestamp: closed_at
";

/// A foreign key whose child table and column are not plain identifiers (`order-lines`,
/// `account id`): the tool names them quoted, as the catalog spells them, so the row they
/// reference stays (locked) and the others go (before, the key was left out and every
/// delete of a referenced row failed the target).
async fn foreign_keys_with_names_that_need_quotes(db: Db) {
    let case = Case::new(db, &[("accounts.yaml", ACCOUNTS)]).await;
    let q = |name: &str| match db {
        Db::MySql => format!("`{name}`"),
        _ => format!("\"{name}\""),
    };
    let ts = db.timestamp_type();
    case.db
        .exec(&format!(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, closed_at {ts} NOT NULL);
             CREATE TABLE {lines} (id BIGINT PRIMARY KEY, {col} BIGINT NULL,
               FOREIGN KEY ({col}) REFERENCES accounts (id));
             INSERT INTO accounts VALUES (1, {old}), (2, {old}), (3, {fresh});
             INSERT INTO {lines} VALUES (10, 1), (11, NULL)",
            lines = q("order-lines"),
            col = q("account id"),
            old = db.days_ago(90),
            fresh = db.days_ago(1),
        ))
        .await;
    case.expect(&["migrate"], 0);
    let plan: serde_json::Value =
        serde_json::from_str(&case.expect(&["plan", "--format", "json"], 0).stdout).unwrap();
    let t = &plan["targets"][0];
    assert_eq!(
        (t["matched"].as_u64(), t["locked"].as_u64()),
        (Some(1), Some(1)),
        "{plan}"
    );
    case.expect(&["run"], 0);
    let text = if db == Db::Postgres {
        "TEXT"
    } else {
        "CHAR(20)"
    };
    assert_eq!(
        ids(
            &case,
            &format!("SELECT CAST(id AS {text}) FROM accounts ORDER BY id")
        )
        .await,
        ["1", "3"]
    );
}

/// One subject id names one subject in every column: `4` erases the account (an integer
/// id) and the orders (a text column holding '4'); ` 04` names neither, so it erases
/// nothing anywhere (before, the integer column read it as 4 while the text column did not,
/// and the subject was half erased under another pseudonym).
async fn a_subject_id_is_matched_as_written_in_every_column(db: Db) {
    const RULES: &str = "category: accounts
description: Accounts and their orders
source: \"Privacy Policy, 'Account data'\"
retain: forever
on_expiry: keep
on_erasure: delete
targets:
  - store: app
    table: orders
    key: [id]
    subject: account_ref
  - store: app
    table: accounts
    key: [id]
    subject: id
";
    let case = Case::new(db, &[("accounts.yaml", RULES)]).await;
    case.db
        .exec(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY);
             CREATE TABLE orders (id BIGINT PRIMARY KEY, account_ref VARCHAR(20) NULL);
             INSERT INTO accounts VALUES (4), (5);
             INSERT INTO orders VALUES (1, '4'), (2, '04'), (3, '5'), (4, NULL)",
        )
        .await;
    case.expect(&["migrate"], 0);
    let text = if db == Db::Postgres {
        "TEXT"
    } else {
        "CHAR(20)"
    };
    let left = |table: &'static str| {
        let sql = format!("SELECT CAST(id AS {text}) FROM {table} ORDER BY {table}.id");
        let case = &case;
        async move { ids(case, &sql).await }
    };
    case.expect(&["erase", "--subject", " 04", "--ticket", "T-1"], 0);
    assert_eq!(left("accounts").await, ["4", "5"]);
    assert_eq!(left("orders").await, ["1", "2", "3", "4"]);
    case.expect(&["erase", "--subject", "4", "--ticket", "T-2"], 0);
    assert_eq!(left("accounts").await, ["5"]);
    assert_eq!(left("orders").await, ["2", "3", "4"]);
}

crate::support::on_every_dialect!(
    Db:
    a_subject_id_is_matched_as_written_in_every_column,
    foreign_keys_with_names_that_need_quotes,
    a_table_that_refers_to_itself_keeps_what_its_rows_refer_to,
    rows_without_a_subject_expire_while_a_hold_is_in_force,
    the_guard_counts_rows_that_foreign_keys_block,
    erase_runs_in_every_documented_form,
    plan_works_before_migrate_and_writes_nothing,
    check_connect_refuses_a_view_and_a_key_that_names_no_single_row,
    a_plan_counts_parents_whose_children_the_run_deletes_first,
);

/// What each target's plan says it matches, by (category, target, reason).
fn planned(plan: &serde_json::Value) -> std::collections::BTreeMap<(String, String, String), u64> {
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
            (
                (s("category"), s("target"), s("reason")),
                t["matched"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// What a run did per (category, target, reason), from its audit entries.
fn done(audit_jsonl: &str) -> std::collections::BTreeMap<(String, String, String), u64> {
    let mut out = std::collections::BTreeMap::new();
    for line in audit_jsonl.lines() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if e["kind"] != "batch" || e["outcome"] != "ok" {
            continue;
        }
        let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
        *out.entry((s("category"), s("target"), s("reason")))
            .or_insert(0) += e["count"].as_u64().unwrap_or(0);
    }
    out
}

/// A plan predicts the run in its order: on the demo shop, each target's planned count is
/// what the run then does (parents whose children the run deletes first included).
#[tokio::test]
async fn the_demos_plan_holds_for_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let paths = retention::demo::seed::seed(dir.path(), Utc::now())
        .await
        .expect("seed the demo");
    let run = |args: &[&str]| crate::support::cli::retention(dir.path(), args, &[]);
    assert_eq!(paths.config, dir.path().join("retention.yaml"));
    run(&["migrate"]).expect_code(0);
    let plan = run(&["plan", "--format", "json"]).expect_code(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    run(&["run", "--allow-mass-delete"]).expect_code(0);
    let audit = run(&["audit", "show", "--format", "json"]).expect_code(0);
    let (planned, done) = (planned(&plan), done(&audit.stdout));
    let mut differ = Vec::new();
    for (key, want) in &planned {
        let got = done.get(key).copied().unwrap_or(0);
        if got != *want {
            differ.push(format!("{key:?}: planned {want}, done {got}"));
        }
    }
    assert!(differ.is_empty(), "{}\n\nplan: {plan}", differ.join("\n"));
    assert!(
        planned.values().sum::<u64>() > 100,
        "the demo has work to do: {plan}"
    );
}

/// The same on a schema of three generations, each with expired rows referenced only by
/// expired children: the plan counts the parents the run will be able to delete.
async fn a_plan_counts_parents_whose_children_the_run_deletes_first(db: Db) {
    let gen = |name: &str, table: &str| {
        format!(
            "category: {name}
description: {name}
source: \"Privacy Policy, 'Orders'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: {table}
    key: [id]
    timestamp: at
"
        )
    };
    let (a, b, c) = (gen("a", "accounts"), gen("b", "orders"), gen("c", "items"));
    let case = Case::new(db, &[("a.yaml", &a), ("b.yaml", &b), ("c.yaml", &c)]).await;
    let ts = db.timestamp_type();
    let (old, new) = match db {
        Db::Sqlite => (
            format!("'{}'", (Utc::now() - Duration::days(90)).to_rfc3339()),
            format!("'{}'", Utc::now().to_rfc3339()),
        ),
        _ => (db.days_ago(90), db.days_ago(0)),
    };
    let rows = |n: i64, f: &dyn Fn(i64) -> String| (1..=n).map(f).collect::<Vec<_>>().join(", ");
    case.db
        .exec(&format!(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, at {ts} NOT NULL);
             CREATE TABLE orders (id BIGINT PRIMARY KEY, account_id BIGINT REFERENCES accounts (id), at {ts} NOT NULL);
             CREATE TABLE items (id BIGINT PRIMARY KEY, order_id BIGINT REFERENCES orders (id), at {ts} NOT NULL);
             INSERT INTO accounts VALUES {};
             INSERT INTO orders VALUES {};
             INSERT INTO items VALUES {}",
            rows(40, &|i| format!("({i}, {old})")),
            // Orders 1-30 of accounts 1-30; 21-30 are fresh, so accounts 21-30 stay.
            rows(30, &|i| format!("({i}, {i}, {})", if i > 20 { &new } else { &old })),
            // Items of orders 1-20; item 20 is fresh, so order 20 (and account 20) stay.
            rows(20, &|i| format!("({i}, {i}, {})", if i == 20 { &new } else { &old })),
        ))
        .await;
    case.expect(&["migrate"], 0);
    let plan: serde_json::Value =
        serde_json::from_str(&case.expect(&["plan", "--format", "json"], 0).stdout).unwrap();
    let matched = |t: &str| {
        plan["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["target"] == t)
            .unwrap()["matched"]
            .as_u64()
            .unwrap()
    };
    // items 1-19; orders 1-19; accounts 1-19 and 31-40.
    assert_eq!(
        (matched("items"), matched("orders"), matched("accounts")),
        (19, 19, 29),
        "{plan}"
    );
    case.expect(&["run"], 0);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM items").await, 1);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM orders").await, 11);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM accounts").await, 11);
}

/// `check --connect` on a partitioned table sees the index its partitions have, and its
/// index advice is SQL that runs on a mixed-case table.
#[tokio::test]
async fn check_connect_reads_partition_indexes_and_quotes_its_advice() {
    let rule = |n: &str, table: &str, subject: &str| {
        format!(
            "category: {n}
description: Notes
source: \"Privacy Policy, 'Feedback'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: {table}
    key: [id, at]
    timestamp: at
    subject: {subject}
"
        )
    };
    let case = Case::new(
        Db::Postgres,
        &[
            ("a.yaml", &rule("a", "payments", "account_id")),
            ("b.yaml", &rule("b", "CustomerNotes", "CustomerId")),
        ],
    )
    .await;
    case.db
        .exec(&format!(
            "CREATE TABLE payments (id BIGINT NOT NULL, account_id BIGINT, at TIMESTAMPTZ NOT NULL,
               PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
             {}
             CREATE TABLE \"CustomerNotes\" (id BIGINT NOT NULL, \"CustomerId\" BIGINT, at TIMESTAMPTZ NOT NULL,
               PRIMARY KEY (id, at))",
            partitions(Db::Postgres, "payments")
        ))
        .await;
    for p in case
        .column("SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r'")
        .await
        .into_iter()
        .flatten()
    {
        case.db
            .exec(&format!("CREATE INDEX {p}_account ON {p} (account_id)"))
            .await;
    }
    let out = case.expect(&["check", "--connect"], 0);
    assert!(
        !out.stderr.contains("payments"),
        "every partition has the index: {}",
        out.stderr
    );
    let advice = out
        .stderr
        .lines()
        .find(|l| l.contains("CustomerId"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let sql = &advice[advice.find("CREATE INDEX").unwrap()..advice.rfind(')').unwrap()];
    assert_eq!(sql, "CREATE INDEX ON \"CustomerNotes\" (\"CustomerId\")");
    case.db.exec(sql).await;
    let out = case.expect(&["check", "--connect"], 0);
    assert!(!out.stderr.contains("CustomerId"), "{}", out.stderr);
}

/// A user's SQLite database is opened as it is: `plan` leaves its file byte for byte
/// (it used to switch the file to WAL, a change to the user's database), and a run leaves
/// its journal mode; only a store the tool creates itself is put in WAL.
#[tokio::test]
async fn a_users_sqlite_file_keeps_its_bytes_under_plan_and_its_journal_mode() {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
    use sqlx::{ConnectOptions, Executor};
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.db");
    let url = format!("sqlite://{}", app.display());
    let mut c = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .connect()
        .await
        .unwrap();
    c.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL);
         INSERT INTO events VALUES (1, '2020-01-01T00:00:00Z'), (2, '2999-01-01T00:00:00Z');",
    )
    .await
    .unwrap();
    drop(c);
    let config = format!(
        "stores:
  state: {{url: \"sqlite://{}\"}}
  app: {{url: \"{url}\"}}
state: state
audit:
  pseudonym_key: test-pseudonym-key-0123456789abcdef0123456789
rules: ./rules
",
        dir.path().join("state.db").display()
    );
    let rule = "category: events
description: Events
source: \"Privacy Policy, 'Usage'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: events
    key: [id]
    timestamp: created_at
";
    crate::support::cli::write_files(
        dir.path(),
        &[
            ("retention.yaml", config.as_str()),
            ("rules/events.yaml", rule),
        ],
    );
    let go = |args: &[&str]| crate::support::cli::retention(dir.path(), args, &[]);
    go(&["migrate"]).expect_code(0);
    let before = std::fs::read(&app).unwrap();
    go(&["plan"]).expect_code(0);
    go(&["run", "--dry-run"]).expect_code(0);
    assert!(
        std::fs::read(&app).unwrap() == before,
        "plan and dry run left the file as it was"
    );
    go(&["run"]).expect_code(0);
    let mut c = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(mode, "delete");
    let left: Vec<i64> = sqlx::query_scalar("SELECT id FROM events")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(left, [2]);
}
