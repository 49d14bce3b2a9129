//! A foreign key's `ON DELETE CASCADE` or `SET NULL` never lets a delete reach rows no
//! rule selected: a parent row that a child row still references waits, counted as
//! locked, whatever the key's action — so a held subject's child rows, a fresh child row
//! and the rows of a table no rule names survive their parent's expiry, on every dialect.
//! A `via` subject is a reference too, declared or not: the child's rows are erased
//! before the parent's they are found through. The expected rows are computed from the
//! data before the run (the oracle).

use crate::support::case::Case;
use crate::support::db::Db;

const RULES: &str = "category: groups
description: Groups and their members
source: \"Privacy Policy, 'Groups'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: memberships
    key: [id]
    timestamp: joined_at
    subject: user_id
  - store: app
    table: groups
    key: [id]
    timestamp: closed_at
    subject: owner
";

async fn cascades_never_reach_rows_no_rule_selected(db: Db) {
    let case = Case::new(db, &[("groups.yaml", RULES)]).await;
    let ts = db.timestamp_type();
    case.db
        .exec(&format!(
            "CREATE TABLE groups (id INT PRIMARY KEY, owner VARCHAR(40), closed_at {ts} NOT NULL)"
        ))
        .await;
    // PostgreSQL folds and SQLite matches table names regardless of case; MariaDB on
    // Linux does neither.
    let parent = if db == Db::MySql { "groups" } else { "GROUPS" };
    case.db
        .exec(&format!(
            "CREATE TABLE memberships (id INT PRIMARY KEY,
               group_id INT REFERENCES {parent}(id) ON DELETE CASCADE,
               user_id VARCHAR(40), joined_at {ts} NOT NULL)"
        ))
        .await;
    // Not a target: no rule names it, so nothing may change in it.
    case.db
        .exec(
            "CREATE TABLE prefs (id INT PRIMARY KEY,
               group_id INT REFERENCES groups(id) ON DELETE SET NULL)",
        )
        .await;
    let old = db.days_ago(100);
    let fresh = db.days_ago(1);
    for id in 1..=6 {
        case.db
            .exec(&format!(
                "INSERT INTO groups VALUES ({id}, 'owner{id}', {old})"
            ))
            .await;
    }
    // 1: alice's expired membership goes first, then its group is free.
    // 2: a held subject's expired membership stays, and keeps its group.
    // 3: a fresh membership stays, and keeps its group.
    // 4: a row of a table no rule names keeps its group (SET NULL would rewrite it).
    // 5, 6: nothing references them.
    case.db
        .exec(&format!(
            "INSERT INTO memberships VALUES (1, 1, 'alice', {old}), (2, 2, 'held', {old}),
               (3, 3, 'bob', {fresh})"
        ))
        .await;
    case.db.exec("INSERT INTO prefs VALUES (1, 4)").await;
    case.expect(&["migrate"], 0);
    case.expect(
        &["hold", "add", "--subject", "held", "--reason", "litigation"],
        0,
    );

    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let groups = plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["target"] == "groups")
        .expect("the groups pass");
    assert_eq!(groups["locked"].as_u64(), Some(3), "{groups}");

    case.expect(&["run"], 0);

    let text = if db == Db::MySql { "CHAR" } else { "TEXT" };
    assert_eq!(case.ids("groups").await, ["2", "3", "4"]);
    assert_eq!(case.ids("memberships").await, ["2", "3"]);
    assert_eq!(
        case.column(&format!("SELECT CAST(group_id AS {text}) FROM prefs"))
            .await,
        [Some("4".to_owned())],
        "a row of a table no rule names is unchanged"
    );
    case.expect(&["audit", "verify"], 0);
}

/// Two rules whose parent's category sorts first, and no foreign key between the tables
/// (as in schemas without declared keys): the order lines, found through their orders,
/// are erased before the orders, by `erase` and by a queued request.
async fn via_children_go_before_their_parents(db: Db) {
    let orders = "category: a_orders
description: Orders
source: \"Privacy Policy, 'Orders'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: orders
    key: [id]
    subject: customer_id
";
    let lines = "category: lines
description: Order lines
source: \"Privacy Policy, 'Orders'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: order_lines
    key: [id]
    subject: {column: order_id, via: {table: orders, key: id, subject: customer_id}}
";
    let case = Case::new(db, &[("a_orders.yaml", orders), ("lines.yaml", lines)]).await;
    case.db
        .exec("CREATE TABLE orders (id INT PRIMARY KEY, customer_id VARCHAR(10))")
        .await;
    case.db
        .exec("CREATE TABLE order_lines (id INT PRIMARY KEY, order_id INT)")
        .await;
    case.db
        .exec("INSERT INTO orders VALUES (1, 'ANATR'), (2, 'ANATR'), (3, 'ANTON'), (4, 'BOB')")
        .await;
    case.db
        .exec("INSERT INTO order_lines VALUES (10, 1), (11, 1), (12, 2), (13, 3), (14, 3), (15, 4), (16, NULL)")
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["erase", "--subject", "ANATR", "--ticket", "T-1"], 0);
    assert_eq!(case.ids("orders").await, ["3", "4"]);
    assert_eq!(case.ids("order_lines").await, ["13", "14", "15", "16"]);
    case.expect(
        &["request", "add", "--subject", "ANTON", "--ticket", "T-2"],
        0,
    );
    case.expect(&["run"], 0);
    assert_eq!(case.ids("orders").await, ["4"]);
    assert_eq!(case.ids("order_lines").await, ["15", "16"]);
    case.expect(&["audit", "verify"], 0);
}

crate::support::on_every_dialect!(Db:
    a_cascade_or_set_null_never_reaches_rows_no_rule_selected => cascades_never_reach_rows_no_rule_selected,
    a_via_child_is_erased_before_the_parent_it_is_found_through => via_children_go_before_their_parents,
);

/// PostgreSQL inheritance: a foreign key to a child table (`events_2020 INHERITS
/// (events)`) keeps the rows it references when a rule on the parent expires them — the
/// parent's delete reaches the child's rows, and `ON DELETE CASCADE` would take the notes.
#[tokio::test]
async fn postgres_a_key_to_an_inheritance_child_keeps_what_it_references() {
    let db = Db::Postgres;
    let rule = "category: events
description: Events
source: \"Privacy Policy, 'Usage information'\"
retain: 30d
on_expiry: delete
targets:
  - store: app
    table: events
    key: [id]
    timestamp: at
";
    let case = Case::new(db, &[("events.yaml", rule)]).await;
    let old = db.days_ago(100);
    case.db
        .exec(&format!(
            "CREATE TABLE events (id INT PRIMARY KEY, at TIMESTAMPTZ NOT NULL);
             CREATE TABLE events_2020 (PRIMARY KEY (id)) INHERITS (events);
             CREATE TABLE notes (id INT PRIMARY KEY, event_id INT REFERENCES events_2020(id) ON DELETE CASCADE);
             INSERT INTO events VALUES (1, {old});
             INSERT INTO events_2020 VALUES (2, {old}), (3, {old});
             INSERT INTO notes VALUES (10, 3)"
        ))
        .await;
    case.expect(&["migrate"], 0);
    case.expect(&["run"], 0);
    assert_eq!(
        case.column("SELECT id::text FROM events ORDER BY id").await,
        [Some("3".to_owned())]
    );
    assert_eq!(
        case.column("SELECT id::text FROM notes").await,
        [Some("10".to_owned())]
    );
}

/// MariaDB: another session inserts a child of expired group 1 (`ON DELETE CASCADE`) and
/// keeps its transaction open, so the run's batch waits for it; then it commits. The
/// batch must not delete group 1 through its new child: the child stays, and so does its
/// parent, while every other expired group goes.
#[tokio::test]
async fn mariadb_a_child_committed_while_a_batch_waits_is_not_cascaded_away() {
    use sqlx::Connection;
    let rule = "category: groups
description: Groups
source: \"Privacy Policy, 'Groups'\"
retain: 30d
on_expiry: delete
allow_mass_delete: true
targets:
  - store: app
    table: groups
    key: [id]
    timestamp: closed_at
";
    let db = Db::MySql;
    let case = Case::new(db, &[("groups.yaml", rule)]).await;
    case.db
        .exec(&format!(
            "CREATE TABLE groups (id INT PRIMARY KEY, closed_at DATETIME NOT NULL) ENGINE=InnoDB;
             CREATE TABLE memberships (id INT AUTO_INCREMENT PRIMARY KEY, group_id INT,
               FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE) ENGINE=InnoDB;
             INSERT INTO groups SELECT seq, {} FROM seq_1_to_200",
            db.days_ago(100)
        ))
        .await;
    case.expect(&["migrate"], 0);
    let mut other = sqlx::MySqlConnection::connect(&case.db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("INSERT INTO memberships (group_id) VALUES (1)")
        .execute(&mut other)
        .await
        .unwrap();
    let mut run = crate::support::cli::spawn_run(case.dir.path(), &[("APP_URL", &case.db.url)]);
    // The run reaches its batch within a second or two and waits there (for up to
    // InnoDB's lock wait timeout); it must not have ended by then.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(4) {
        if let Ok(Some(status)) = run.try_wait() {
            let out = run.wait_with_output().unwrap();
            panic!(
                "the run ended ({status}) without waiting for the child row: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        case.db.count("SELECT COUNT(*) FROM memberships").await,
        1,
        "the child stays: {stderr}"
    );
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM groups WHERE id = 1")
            .await,
        1,
        "its parent is kept"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(case.db.count("SELECT COUNT(*) FROM groups").await, 1);
    case.expect(&["audit", "verify"], 0);
}
