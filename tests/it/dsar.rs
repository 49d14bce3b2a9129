//! Erasure requests, legal holds and the export on real PostgreSQL, MariaDB and SQLite.
//!
//! One small shop per test: accounts, their sessions (a foreign key to accounts), orders
//! (kept for tax: personal fields anonymised, the link to the account cut), order items
//! (tied to the subject through a `via` hop on orders), and invoices (`on_erasure: keep`).
//! Subject 1 is the one erased, subject 2 is a bystander whose data must never change,
//! subject 3 is under legal hold, and subjects 4 and 5 share an email address.
//!
//! The commands run through their `run_loaded` entry points with a configuration built
//! in the test (the config file loader is another module's job).

use crate::support::db::{Db, TestDb};
use retention::cli::{AuditCommand, EraseArgs, HoldCommand, ReportFormat, RequestCommand};
use retention::config::*;
use retention::exit::{Refusal, Status};
use retention::ident::Ident;
use retention::rules::*;
use std::collections::BTreeMap;

const KEY: &str = "test-pseudonym-key-0123456789abcdef0123456789";
const TAX: &str = "Tax law: invoices are kept for ten years";
const DATA: [&str; 5] = ["accounts", "sessions", "orders", "order_items", "invoices"];

fn id(s: &str) -> Ident {
    Ident::parse(s).unwrap()
}

/// A fresh database holding both the shop and the tool's own tables.
struct Shop {
    db: TestDb,
    config: Config,
    rules: RuleSet,
}

async fn shop(kind: Db) -> Shop {
    let db = TestDb::fresh(kind).await;
    let ts = kind.timestamp_type();
    db.exec(&format!(
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email VARCHAR(100), phone VARCHAR(30), name VARCHAR(100));
         CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, ip VARCHAR(45), FOREIGN KEY (account_id) REFERENCES accounts (id));
         CREATE INDEX sessions_account ON sessions (account_id);
         CREATE TABLE orders (id BIGINT PRIMARY KEY, account_id BIGINT NULL, ship_name VARCHAR(100) NULL, ship_address VARCHAR(200) NULL, amount DOUBLE PRECISION NOT NULL, anonymised_at {ts} NULL, FOREIGN KEY (account_id) REFERENCES accounts (id));
         CREATE INDEX orders_account ON orders (account_id);
         CREATE TABLE order_items (id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, product VARCHAR(100) NOT NULL, gift_message VARCHAR(200) NULL, anonymised_at {ts} NULL, FOREIGN KEY (order_id) REFERENCES orders (id));
         CREATE INDEX order_items_order ON order_items (order_id);
         CREATE TABLE invoices (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, amount DOUBLE PRECISION NOT NULL);
         CREATE INDEX invoices_account ON invoices (account_id);
         INSERT INTO accounts VALUES (1, 'ada@example.com', '+15550001', 'Ada');
         INSERT INTO accounts VALUES (2, 'bob@example.com', '+15550002', 'Bob');
         INSERT INTO accounts VALUES (3, 'cy@example.com', '+15550003', 'Cy');
         INSERT INTO accounts VALUES (4, 'shared@example.com', '+15550004', 'Di');
         INSERT INTO accounts VALUES (5, 'shared@example.com', '+15550005', 'Ed');
         INSERT INTO sessions VALUES (10, 1, '203.0.113.1');
         INSERT INTO sessions VALUES (11, 1, '203.0.113.2');
         INSERT INTO sessions VALUES (12, 2, '198.51.100.2');
         INSERT INTO sessions VALUES (13, 3, '198.51.100.3');
         INSERT INTO orders VALUES (20, 1, 'Ada', '1 Analytical St', 12.5, NULL);
         INSERT INTO orders VALUES (21, 2, 'Bob', '2 Bystander Rd', 7.25, NULL);
         INSERT INTO orders VALUES (22, 3, 'Cy', '3 Held Ln', 9.0, NULL);
         INSERT INTO order_items VALUES (30, 20, 'engine', 'Happy birthday Ada', NULL);
         INSERT INTO order_items VALUES (31, 21, 'kettle', 'For Bob', NULL);
         INSERT INTO invoices VALUES (40, 1, 12.5);
         INSERT INTO invoices VALUES (41, 2, 7.25)"
    ))
    .await;

    let mut stores = BTreeMap::new();
    stores.insert(
        "app".to_owned(),
        StoreConfig::Sql {
            url: db.url.clone().into(),
        },
    );
    let config = Config {
        path: "retention.yaml".into(),
        base_dir: ".".into(),
        stores,
        state: "app".into(),
        audit: AuditConfig {
            pseudonym_key: KEY.into(),
            signing_key: None,
            verifier_key: None,
            origin: None,
            unsigned_history: 0,
            export: None,
            file: None,
        },
        rules_dir: "rules".into(),
        subjects: Some(SubjectLookup {
            store: "app".into(),
            table: id("accounts"),
            key: id("id"),
            by: vec![id("email"), id("phone")],
        }),
        requests: Default::default(),
        defaults: Default::default(),
        digest: "sha256:0".into(),
    };
    let table = |name: &str, subject: SubjectColumn| TableTarget {
        places: Default::default(),
        store: "app".into(),
        table: id(name),
        key: vec![id("id")],
        timestamp: None,
        subject: Some(subject),
        erasure_flag: None,
        filter: vec![],
        anonymise: vec![],
        marker: None,
        export_exclude: Vec::new(),
        partitions: Default::default(),
    };
    let rule = |category: &str, on_erasure: Action, target: TableTarget| Rule {
        category: category.into(),
        file: format!("rules/{category}.yaml").into(),
        description: String::new(),
        source: format!("Privacy Policy, '{category}'"),
        retain: "forever".parse().unwrap(),
        on_expiry: Action::Keep,
        on_erasure,
        keep_reason: None,
        schedule: None,
        allow_mass_delete: false,
        sha256: format!("sha256:{category}"),
        targets: vec![Target::Table(target)],
    };
    let mut orders = table("orders", SubjectColumn::Column(id("account_id")));
    orders.anonymise = vec![
        (id("ship_name"), ColumnStrategy::Null),
        (
            id("ship_address"),
            ColumnStrategy::Replace(Scalar::Text("erased".into())),
        ),
        // Cutting the link to the account lets the account itself be deleted.
        (id("account_id"), ColumnStrategy::Null),
    ];
    orders.marker = Some(id("anonymised_at"));
    let mut items = table(
        "order_items",
        SubjectColumn::Via {
            column: id("order_id"),
            table: id("orders"),
            key: id("id"),
            subject: id("account_id"),
        },
    );
    items.anonymise = vec![(id("gift_message"), ColumnStrategy::Null)];
    items.marker = Some(id("anonymised_at"));
    let mut invoices = rule(
        "invoices",
        Action::Keep,
        table("invoices", SubjectColumn::Column(id("account_id"))),
    );
    invoices.keep_reason = Some(TAX.into());
    // Rules sorted by category, as the loader returns them: accounts come before the
    // tables that reference them, so only the foreign-key order makes deletes succeed.
    let rules = RuleSet {
        rules: vec![
            rule(
                "accounts",
                Action::Delete,
                table("accounts", SubjectColumn::Column(id("id"))),
            ),
            invoices,
            rule("order_items", Action::Anonymise, items),
            rule("orders", Action::Anonymise, orders),
            rule(
                "sessions",
                Action::Delete,
                table("sessions", SubjectColumn::Column(id("account_id"))),
            ),
        ],
        digest: "sha256:rules".into(),
    };
    let pool = retention::stores::sql::SqlPool::connect("app", &db.url)
        .await
        .unwrap();
    retention::state::migrate::migrate(&pool).await.unwrap();
    Shop { db, config, rules }
}

fn erase_args(
    subject: Option<&str>,
    email: Option<&str>,
    ticket: &str,
    dry_run: bool,
) -> EraseArgs {
    EraseArgs {
        subject: subject.map(str::to_owned),
        email: email.map(str::to_owned),
        phone: None,
        ticket: ticket.into(),
        dry_run,
    }
}

impl Shop {
    async fn erase(&self, args: EraseArgs) -> (Result<Status, anyhow::Error>, String) {
        let mut out = Vec::new();
        let r = retention::commands::erase::run_loaded(
            self.config.clone(),
            self.rules.clone(),
            args,
            &mut out,
        )
        .await;
        (r, String::from_utf8(out).unwrap())
    }

    async fn hold(&self, cmd: HoldCommand) -> String {
        let mut out = Vec::new();
        let s = retention::commands::hold::run_loaded(&self.config, cmd, &mut out)
            .await
            .unwrap();
        assert_eq!(s, Status::Done);
        String::from_utf8(out).unwrap()
    }

    async fn request(&self, cmd: RequestCommand) -> Result<String, anyhow::Error> {
        let mut out = Vec::new();
        retention::commands::request::run_loaded(&self.config, cmd, &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// `audit show --ticket T --format json`, one parsed entry per line.
    async fn audit_for_ticket(&self, ticket: &str) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let cmd = AuditCommand::Show {
            run: None,
            ticket: Some(ticket.into()),
            subject: None,
            format: ReportFormat::Json,
            out: None,
        };
        retention::commands::audit::run_loaded(&self.config, cmd, &mut out)
            .await
            .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn data_checksum(&self) -> String {
        self.db.checksum_of(&DATA).await
    }

    async fn n(&self, sql: &str) -> i64 {
        self.db.count(sql).await
    }

    /// Everything of the bystander (subject 2), to show it never changes.
    async fn bystander(&self) -> Vec<Option<String>> {
        let mut all = Vec::new();
        for q in [
            "SELECT email FROM accounts WHERE id = 2",
            "SELECT ip FROM sessions WHERE account_id = 2",
            "SELECT ship_name FROM orders WHERE id = 21",
            "SELECT gift_message FROM order_items WHERE id = 31",
            "SELECT CAST(account_id AS CHAR(20)) FROM invoices WHERE id = 41",
        ] {
            let q = if self.db.kind == Db::Sqlite || self.db.kind == Db::Postgres {
                q.replace("CHAR(20)", "TEXT")
            } else {
                q.to_owned()
            };
            all.extend(self.db.texts(&q).await);
        }
        all
    }
}

fn refusal_status(e: &anyhow::Error) -> Option<Status> {
    e.downcast_ref::<Refusal>().map(Refusal::status)
}

/// What subject 1's erasure must leave: no account, no sessions, orders and items kept
/// but stripped of personal fields, invoices kept.
async fn assert_subject_1_erased(s: &Shop) {
    assert_eq!(s.n("SELECT COUNT(*) FROM accounts WHERE id = 1").await, 0);
    assert_eq!(
        s.n("SELECT COUNT(*) FROM sessions WHERE account_id = 1")
            .await,
        0
    );
    assert_eq!(
        s.n("SELECT COUNT(*) FROM orders WHERE id = 20 AND account_id IS NULL AND ship_name IS NULL AND ship_address = 'erased' AND amount = 12.5 AND anonymised_at IS NOT NULL").await,
        1,
        "the order is kept for tax with its personal fields anonymised"
    );
    assert_eq!(
        s.n("SELECT COUNT(*) FROM order_items WHERE id = 30 AND gift_message IS NULL AND product = 'engine'").await,
        1,
        "the order item, tied to the subject through its order, is anonymised"
    );
    assert_eq!(
        s.n("SELECT COUNT(*) FROM invoices WHERE account_id = 1")
            .await,
        1,
        "invoices are kept by law"
    );
}

async fn erasing_a_subject_by_id_follows_foreign_keys_and_keeps_what_the_law_requires(kind: Db) {
    let s = shop(kind).await;
    let bystander = s.bystander().await;
    let (r, out) = s.erase(erase_args(Some("1"), None, "DSAR-1", false)).await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    assert_subject_1_erased(&s).await;
    assert_eq!(s.bystander().await, bystander, "nobody else's data changed");
    assert_eq!(s.n("SELECT COUNT(*) FROM accounts").await, 4);

    // The report names every category's result, the keep reason, and never the subject id.
    assert!(out.contains("DSAR-1") && out.contains(": done"), "{out}");
    for line in [
        ("accounts", "erased", "1"),
        ("sessions", "erased", "2"),
        ("orders", "anonymised", "1"),
        ("order_items", "anonymised", "1"),
    ] {
        assert!(
            out.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 4 && w[0] == line.0 && w[2] == line.1 && w[3] == line.2
            }),
            "{line:?} in\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("invoices") && l.contains("kept") && l.contains(TAX)),
        "{out}"
    );
    assert!(!out.contains("ada@example.com"));

    // The queue table records the outcome with the run.
    let list = s.request(RequestCommand::List).await.unwrap();
    let row = list.lines().find(|l| l.starts_with("DSAR-1")).unwrap();
    assert!(row.contains("done") && row.contains("deleted 3"), "{list}");

    // `audit show --ticket` answers what was done for the ticket: batches and one request
    // entry, all with the subject's pseudonym, never its id or email.
    let entries = s.audit_for_ticket("DSAR-1").await;
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"batch"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "request").count(),
        1,
        "{kinds:?}"
    );
    let request = entries.iter().find(|e| e["kind"] == "request").unwrap();
    assert_eq!(request["outcome"], "ok");
    assert_eq!(request["count"], 5);
    // What the rules keep is on the record too (so the certificate shows it): one `skip`
    // entry with outcome `kept` for the invoices, without the reason's free text.
    let kept: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["kind"] == "skip" && e["outcome"] == "kept")
        .collect();
    assert_eq!(kept.len(), 1, "{entries:?}");
    assert_eq!(
        (&kept[0]["category"], &kept[0]["action"]),
        (&serde_json::json!("invoices"), &serde_json::json!("keep"))
    );
    assert!(!kept[0].to_string().contains(TAX), "{}", kept[0]);
    for e in &entries {
        let subject = e["subject"].as_str().unwrap();
        assert!(subject.starts_with("hmac:"), "{e}");
        let line = e.to_string();
        assert!(!line.contains("ada@") && !line.contains("\"1\""), "{line}");
    }
}

async fn erasing_by_email_resolves_the_subject_through_the_lookup(kind: Db) {
    let s = shop(kind).await;
    let bystander = s.bystander().await;
    let (r, out) = s
        .erase(erase_args(None, Some("ada@example.com"), "DSAR-2", false))
        .await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    assert_subject_1_erased(&s).await;
    assert_eq!(s.bystander().await, bystander);
}

async fn an_email_matching_nobody_or_several_subjects_is_an_error_that_changes_nothing(kind: Db) {
    let s = shop(kind).await;
    let before = s.db.checksum().await;
    let (r, _) = s
        .erase(erase_args(
            None,
            Some("nobody@example.com"),
            "DSAR-3",
            false,
        ))
        .await;
    let e = r.unwrap_err();
    assert_eq!(refusal_status(&e), None, "exit 1, not a usage error");
    let msg = format!("{e:#}");
    assert!(msg.contains("--email: no subject"), "{msg}");
    assert!(
        !msg.contains("nobody@"),
        "the address is not repeated: {msg}"
    );

    // The match is exact: another case is another address, under MariaDB's
    // case-insensitive default collation too.
    let (r, _) = s
        .erase(erase_args(None, Some("ADA@example.com"), "DSAR-3", false))
        .await;
    let msg = format!("{:#}", r.unwrap_err());
    assert!(msg.contains("--email: no subject"), "{msg}");

    let (r, _) = s
        .erase(erase_args(
            None,
            Some("shared@example.com"),
            "DSAR-3",
            false,
        ))
        .await;
    let msg = format!("{:#}", r.unwrap_err());
    assert!(msg.contains("--email: 2 subjects"), "{msg}");
    assert_eq!(s.db.checksum().await, before, "nothing changed anywhere");
}

async fn a_subject_under_legal_hold_is_never_erased_and_is_reported(kind: Db) {
    let s = shop(kind).await;
    s.hold(HoldCommand::Add {
        subject: "3".into(),
        reason: "Litigation hold, matter 2026-17".into(),
        until: None,
    })
    .await;
    let list = s.hold(HoldCommand::List).await;
    assert!(
        list.lines()
            .any(|l| l.starts_with("3 ") && l.contains("in force")),
        "{list}"
    );

    let before = s.data_checksum().await;
    let (r, out) = s.erase(erase_args(Some("3"), None, "DSAR-4", false)).await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    assert_eq!(
        s.data_checksum().await,
        before,
        "nothing of the held subject was touched"
    );
    assert!(out.contains("partial (held)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("accounts") && l.contains("held")),
        "{out}"
    );

    let entries = s.audit_for_ticket("DSAR-4").await;
    let request = entries.iter().find(|e| e["kind"] == "request").unwrap();
    assert_eq!(request["outcome"], "partial");
    assert_eq!(request["held"], 3, "account, session and order");
    let list = s.request(RequestCommand::List).await.unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with("DSAR-4") && l.contains("partial") && l.contains("reason held")),
        "{list}"
    );

    // Once the hold is lifted, the same subject is erased.
    s.hold(HoldCommand::Remove {
        subject: "3".into(),
    })
    .await;
    let (r, out) = s.erase(erase_args(Some("3"), None, "DSAR-5", false)).await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    assert_eq!(s.n("SELECT COUNT(*) FROM accounts WHERE id = 3").await, 0);
}

async fn a_second_erasure_of_the_same_subject_changes_nothing(kind: Db) {
    let s = shop(kind).await;
    let (r, _) = s.erase(erase_args(Some("1"), None, "DSAR-6", false)).await;
    assert_eq!(r.unwrap(), Status::Done);
    let after_first = s.data_checksum().await;
    let (r, out) = s.erase(erase_args(Some("1"), None, "DSAR-6", false)).await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    assert_eq!(s.data_checksum().await, after_first);
    assert!(
        out.contains("0 erased, 0 anonymised, 0 held, 0 locked"),
        "{out}"
    );
}

async fn a_dry_run_erasure_changes_nothing_not_even_the_tools_own_tables(kind: Db) {
    let s = shop(kind).await;
    let before = s.db.checksum().await;
    let (r, out) = s.erase(erase_args(Some("1"), None, "DSAR-7", true)).await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    assert_eq!(s.db.checksum().await, before);
    assert!(out.starts_with("Dry run: nothing was changed."), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("sessions") && l.contains("to erase") && l.contains(" 2")),
        "{out}"
    );
}

async fn a_ticket_is_unique_and_belongs_to_one_subject(kind: Db) {
    let s = shop(kind).await;
    s.request(RequestCommand::Add {
        subject: "1".into(),
        ticket: "DSAR-8".into(),
    })
    .await
    .unwrap();
    let e = s
        .request(RequestCommand::Add {
            subject: "2".into(),
            ticket: "DSAR-8".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refusal_status(&e), Some(Status::Invalid));
    assert!(format!("{e}").contains("DSAR-8` already exists"), "{e}");
    let before = s.db.checksum().await;
    let (r, _) = s.erase(erase_args(Some("2"), None, "DSAR-8", false)).await;
    let e = r.unwrap_err();
    assert_eq!(refusal_status(&e), Some(Status::Invalid));
    assert_eq!(s.db.checksum().await, before, "refused before anything ran");
}

async fn a_queued_request_is_processed_by_the_next_run_and_its_outcome_recorded(kind: Db) {
    let s = shop(kind).await;
    s.request(RequestCommand::Add {
        subject: "1".into(),
        ticket: "DSAR-9".into(),
    })
    .await
    .unwrap();
    // A ticketing system may insert a row directly, too.
    s.db.exec("INSERT INTO retention_requests (ticket, subject) VALUES ('DSAR-10', '3')")
        .await;
    let list = s.request(RequestCommand::List).await.unwrap();
    assert_eq!(
        list.lines().filter(|l| l.contains("pending")).count(),
        2,
        "{list}"
    );
    s.hold(HoldCommand::Add {
        subject: "3".into(),
        reason: "Litigation hold".into(),
        until: Some("2999-01-01".into()),
    })
    .await;

    let ws = retention::workspace::Workspace::connect(s.config.clone(), s.rules.clone())
        .await
        .unwrap();
    let state = ws.state().unwrap().clone();
    let as_of = chrono::Utc::now();
    let held = retention::state::holds::in_force(&state, as_of)
        .await
        .unwrap();
    let audit = retention::audit::AuditLog::new(&ws.config.audit, state, "run-1".into(), false);
    let (done, invalid) =
        retention::dsar::erase::process_pending(&ws, as_of, &held, &audit, Default::default())
            .await
            .unwrap();
    assert_eq!((done.len(), invalid), (2, 0));
    assert_subject_1_erased(&s).await;
    assert_eq!(s.n("SELECT COUNT(*) FROM accounts WHERE id = 3").await, 1);

    let list = s.request(RequestCommand::List).await.unwrap();
    let row = |t: &str| list.lines().find(|l| l.starts_with(t)).unwrap().to_owned();
    assert!(
        row("DSAR-9 ").contains(" done ") && row("DSAR-9 ").contains("run-1"),
        "{list}"
    );
    assert!(
        row("DSAR-10").contains(" partial ") && row("DSAR-10").contains("reason held"),
        "{list}"
    );
    assert!(!list.contains("pending"), "{list}");
    // Processed requests are not processed again.
    let (again, invalid) =
        retention::dsar::erase::process_pending(&ws, as_of, &held, &audit, Default::default())
            .await
            .unwrap();
    assert!(again.is_empty() && invalid == 0);
}

async fn the_export_holds_exactly_the_subjects_rows_and_nobody_elses(kind: Db) {
    let s = shop(kind).await;
    let mut out = Vec::new();
    let status = retention::commands::export::run_loaded(
        s.config.clone(),
        s.rules.clone(),
        "1",
        None,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(status, Status::Done);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["subject"], "1");
    assert!(v["generated_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["objects"], serde_json::json!([]));
    assert_eq!(v["incomplete"], serde_json::json!([]));
    let cats = v["categories"].as_array().unwrap();
    let rows = |c: &str| -> Vec<serde_json::Value> {
        cats.iter()
            .find(|x| x["category"] == c)
            .unwrap_or_else(|| panic!("{c} in {v}"))["rows"]
            .as_array()
            .unwrap()
            .clone()
    };
    let ids = |c: &str| -> Vec<i64> { rows(c).iter().map(|r| r["id"].as_i64().unwrap()).collect() };
    assert_eq!(ids("accounts"), [1]);
    assert_eq!(ids("sessions"), [10, 11]);
    assert_eq!(ids("orders"), [20]);
    assert_eq!(ids("order_items"), [30], "found through the via hop");
    assert_eq!(ids("invoices"), [40]);
    assert_eq!(rows("accounts")[0]["email"], "ada@example.com");
    assert_eq!(rows("orders")[0]["amount"], 12.5);
    assert_eq!(cats[0]["source"], "Privacy Policy, 'accounts'");
    let text = String::from_utf8(out).unwrap();
    for other in ["bob@", "Bob", "cy@", "shared@", "198.51.100"] {
        assert!(!text.contains(other), "{other} leaked into the export");
    }
}

/// The shop plus a versioned S3 bucket of photos under `photos/{subject}/`.
async fn shop_with_photos(kind: Db) -> (Shop, crate::support::s3::Bucket) {
    use crate::support::s3::Bucket;
    let mut shop = shop(kind).await;
    let bucket = Bucket::versioned().await;
    for subject in ["1", "2", "3"] {
        for n in 0..2 {
            let key = format!("photos/{subject}/IMG_{n}.jpg");
            // Two versions each: erasure must remove the old one too.
            bucket.put(&key, b"old".to_vec(), &[], &[]).await;
            bucket.put(&key, b"new".to_vec(), &[], &[]).await;
        }
    }
    shop.config.stores.insert("media".into(), bucket.config());
    shop.rules.rules.push(Rule {
        category: "photos".into(),
        file: "rules/photos.yaml".into(),
        description: String::new(),
        source: "Privacy Policy, 'photos'".into(),
        retain: "forever".parse().unwrap(),
        on_expiry: Action::Keep,
        on_erasure: Action::Delete,
        keep_reason: None,
        schedule: None,
        allow_mass_delete: false,
        sha256: "sha256:photos".into(),
        targets: vec![Target::Objects(ObjectTarget {
            store: "media".into(),
            prefix: "photos/".into(),
            subject: Some(ObjectSubject::KeyPattern("photos/{subject}/".into())),
            timestamp: None,
            anonymise: None,
        })],
    });
    (shop, bucket)
}

async fn erasing_a_subject_removes_every_version_of_their_objects_but_not_the_held_or_others(
    kind: Db,
) {
    let (shop, bucket) = shop_with_photos(kind).await;
    shop.hold(HoldCommand::Add {
        subject: "3".into(),
        reason: "litigation".into(),
        until: None,
    })
    .await;
    let (r, out) = shop
        .erase(erase_args(Some("1"), None, "DSAR-S3-1", false))
        .await;
    assert_eq!(r.unwrap(), Status::Done, "{out}");
    let versions: Vec<String> = bucket
        .versions()
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        !versions.iter().any(|k| k.starts_with("photos/1/")),
        "every version of the erased subject's photos is gone: {versions:?}"
    );
    for other in ["photos/2/IMG_0.jpg", "photos/3/IMG_1.jpg"] {
        assert_eq!(
            versions.iter().filter(|k| k.as_str() == other).count(),
            2,
            "{other}: the bystander's and the held subject's versions stay"
        );
    }
    assert_eq!(
        shop.n("SELECT COUNT(*) FROM accounts WHERE id = 1").await,
        0
    );
    // Erasing the held subject touches none of their objects.
    let (r, out) = shop
        .erase(erase_args(Some("3"), None, "DSAR-S3-3", false))
        .await;
    assert!(r.is_ok(), "{out}");
    assert_eq!(
        bucket
            .keys()
            .await
            .iter()
            .filter(|k| k.starts_with("photos/3/"))
            .count(),
        2,
        "a held subject's objects stay"
    );
}

crate::support::on_every_dialect!(
    Db:
    erasing_a_subject_by_id_follows_foreign_keys_and_keeps_what_the_law_requires,
    erasing_by_email_resolves_the_subject_through_the_lookup,
    an_email_matching_nobody_or_several_subjects_is_an_error_that_changes_nothing,
    a_subject_under_legal_hold_is_never_erased_and_is_reported,
    a_second_erasure_of_the_same_subject_changes_nothing,
    a_dry_run_erasure_changes_nothing_not_even_the_tools_own_tables,
    a_ticket_is_unique_and_belongs_to_one_subject,
    a_queued_request_is_processed_by_the_next_run_and_its_outcome_recorded,
    the_export_holds_exactly_the_subjects_rows_and_nobody_elses,
    erasing_a_subject_removes_every_version_of_their_objects_but_not_the_held_or_others,
);

/// Accounts erased by their id, kept forever otherwise (the tests through the binary).
const ACCOUNTS_BY_ID: &str = "category: accounts
description: Accounts
source: \"Privacy Policy, 'Your rights'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: accounts
    key: [id]
    subject: id
";

/// A request row written by hand with an invalid ticket or subject is marked failed and
/// fails the run (exit 1, SPEC §5), with an error that names neither: an invalid ticket
/// may hold anything, an email address included.
#[tokio::test]
async fn an_invalid_queued_request_fails_the_run_without_naming_it() {
    use crate::support::case::Case;
    let case = Case::new(Db::Sqlite, &[("accounts.yaml", ACCOUNTS_BY_ID)]).await;
    case.db
        .exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY); INSERT INTO accounts VALUES (10), (11)")
        .await;
    case.expect(&["migrate"], 0);
    case.db
        .exec(
            "INSERT INTO retention_requests (ticket, subject) VALUES
               ('bad ticket ada@example.com', '10'), ('DIRECT-2', ''), ('GOOD-1', '11')",
        )
        .await;
    let run = case.expect(&["run"], 1);
    assert!(
        run.stderr.contains("could not be processed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("ada@example.com"), "{}", run.stderr);
    assert!(!run.stdout.contains("ada@example.com"), "{}", run.stdout);
    assert_eq!(
        case.column("SELECT CAST(id AS TEXT) FROM accounts").await,
        [Some("10".to_owned())],
        "the valid request still ran"
    );
    let list = case.expect(&["request", "list"], 0);
    assert_eq!(list.stdout.matches("failed").count(), 2, "{}", list.stdout);
}

/// `erase --email` without `subjects.lookup` in the configuration is a usage error (exit
/// 2) that says what to add, and changes nothing.
#[tokio::test]
async fn erasing_by_email_without_a_lookup_is_a_usage_error() {
    use crate::support::case::Case;
    let case = Case::new(Db::Sqlite, &[("accounts.yaml", ACCOUNTS_BY_ID)]).await;
    case.db
        .exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO accounts VALUES (1, 'ada@example.com')")
        .await;
    case.expect(&["migrate"], 0);
    let out = case.expect(
        &["erase", "--email", "ada@example.com", "--ticket", "T-1"],
        2,
    );
    assert!(out.stderr.contains("subjects.lookup"), "{}", out.stderr);
    assert!(!out.stderr.contains("ada@example.com"), "{}", out.stderr);
    assert_eq!(case.db.count("SELECT COUNT(*) FROM accounts").await, 1);
}

/// `hold add --until DATE` holds through that day; `hold add` while a run holds the lock
/// names the run in progress, which keeps the new hold from its next batch on.
#[tokio::test]
async fn a_hold_until_a_date_lasts_the_day_and_a_run_in_progress_is_named() {
    use crate::support::case::Case;
    let case = Case::new(Db::Sqlite, &[("accounts.yaml", ACCOUNTS_BY_ID)]).await;
    case.db
        .exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        .await;
    case.expect(&["migrate"], 0);
    let day = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    case.expect(
        &[
            "hold",
            "add",
            "--subject",
            "1",
            "--reason",
            "r",
            "--until",
            &day.to_string(),
        ],
        0,
    );
    let list = case.expect(&["hold", "list"], 0);
    let end = day
        .succ_opt()
        .unwrap()
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    assert!(list.stdout.contains(&end), "through {day}: {}", list.stdout);

    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
    case.db
        .exec(&format!(
            "INSERT INTO retention_lock (name, run_id, holder, acquired_at, heartbeat_at)
             VALUES ('run', 'run-in-progress', 'elsewhere:1', '{now}', '{now}')"
        ))
        .await;
    let add = case.expect(&["hold", "add", "--subject", "2", "--reason", "r"], 0);
    assert!(
        add.stderr.contains("A run is in progress") && add.stderr.contains("run-in-progress"),
        "{}",
        add.stderr
    );
}
