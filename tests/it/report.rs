//! Reports for compliance officers, from a fixed plan and a fixed run: the Markdown, CSV
//! and JSON renderings are compared whole with snapshots (`UPDATE_EXPECT=1` rewrites
//! them), the example under `docs/` is checked to be current, and the properties a DPO
//! relies on are asserted directly: no network in the HTML page, no pseudonyms or key
//! digests in a run report, and no claim of "no requests" when the queue was not read.

use chrono::{DateTime, Utc};
use expect_test::expect_file;
use retention::audit::Reason;
use retention::coverage::kinds::Kind;
use retention::coverage::tables::{Evidence, Gap};
use retention::coverage::{ColumnFinding, Coverage, PrefixFinding, StoreSummary};
use retention::execute::{PassReport, Report};
use retention::plan::{Guard, Inventory};
use retention::report::run::RunEntry;
use retention::report::{
    self, CategoryInfo, Extras, HoldGroup, PendingRequest, RuleProblem, Severity,
};
use retention::rules::Action;
use retention::time::Period;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a fixed instant")
        .with_timezone(&Utc)
}

struct Pass {
    category: &'static str,
    retain: &'static str,
    store: &'static str,
    target: &'static str,
    action: Action,
    reason: Reason,
    cutoff: Option<&'static str>,
    total: u64,
    matched: u64,
    held: u64,
    locked: u64,
    oldest: Option<&'static str>,
}

impl Pass {
    fn build(self, source: &str) -> PassReport {
        PassReport {
            category: self.category.into(),
            source: source.into(),
            retain: self.retain.into(),
            store: self.store.into(),
            target: self.target.into(),
            action: self.action,
            reason: self.reason,
            cutoff: self.cutoff.map(at),
            inventory: Inventory {
                total: self.total,
                matched: self.matched,
                held: self.held,
                locked: self.locked,
                oldest: self.oldest.map(at),
                with_timestamp: self.total,
                in_future: 0,
                in_1970: 0,
                unreadable: 0,
            },
            guard: Guard::Ok,
            done: 0,
            batches: 0,
            error: None,
        }
    }
}

fn category(
    name: &str,
    description: &str,
    source: &str,
    retain: &str,
    on_expiry: Action,
    on_erasure: Action,
    targets: usize,
) -> CategoryInfo {
    CategoryInfo {
        category: name.into(),
        description: description.into(),
        source: source.into(),
        retain: retain.into(),
        on_expiry,
        on_erasure,
        keep_reason: None,
        targets,
    }
}

const LOCATION_SOURCE: &str = "Privacy Policy, 'What personal information is collected' (\"Location information\") and 'Providing location based services'";
const MESSAGES_SOURCE: &str =
    "Privacy Policy, 'Providing messaging functions (e.g. Mi Talk, Mi Message)'";
const LOGS_SOURCE: &str = "Privacy Policy, 'Cookies and other technologies' (\"Log Files\")";
const ORDERS_SOURCE: &str = "Privacy Policy, 'Processing your purchase orders'";
const INVOICES_SOURCE: &str =
    "Privacy Policy, 'Processing your purchase orders' and 'Retention Policy'";

/// A realistic plan of the shipped rule set at a fixed instant: ordinary expiry, flagged
/// records, held subjects, object-locked attachments, rows still referenced, a mass delete
/// refused by the guard, a missing table, a category with nothing expired, and one kept
/// forever.
pub fn plan_fixture() -> (Report, Extras) {
    use Action::*;
    use Reason::*;
    let mut passes = vec![
        Pass {
            category: "location",
            retain: "90d",
            store: "app",
            target: "device_locations",
            action: Anonymise,
            reason: Expired,
            cutoff: Some("2026-08-25T03:00:00Z"),
            total: 48_210,
            matched: 1_200,
            held: 3,
            locked: 0,
            oldest: Some("2025-01-02T10:00:00Z"),
        }
        .build(LOCATION_SOURCE),
        Pass {
            category: "messages",
            retain: "1y",
            store: "app",
            target: "chat_messages",
            action: Delete,
            reason: Flagged,
            cutoff: None,
            total: 310_442,
            matched: 37,
            held: 0,
            locked: 0,
            oldest: Some("2026-11-02T08:15:00Z"),
        }
        .build(MESSAGES_SOURCE),
        Pass {
            category: "messages",
            retain: "1y",
            store: "app",
            target: "chat_messages",
            action: Delete,
            reason: Expired,
            cutoff: Some("2025-11-23T03:00:00Z"),
            total: 310_442,
            matched: 18_950,
            held: 12,
            locked: 0,
            oldest: Some("2025-03-14T16:40:00Z"),
        }
        .build(MESSAGES_SOURCE),
        Pass {
            category: "messages",
            retain: "1y",
            store: "media",
            target: "chat-attachments/",
            action: Delete,
            reason: Expired,
            cutoff: Some("2025-11-23T03:00:00Z"),
            total: 9_870,
            matched: 2_301,
            held: 4,
            locked: 14,
            oldest: Some("2025-06-01T00:00:00Z"),
        }
        .build(MESSAGES_SOURCE),
        Pass {
            category: "logs",
            retain: "90d",
            store: "app",
            target: "web_access_logs",
            action: Delete,
            reason: Expired,
            cutoff: Some("2026-08-25T03:00:00Z"),
            total: 2_400_000,
            matched: 1_900_000,
            held: 0,
            locked: 0,
            oldest: Some("2019-04-30T22:10:00Z"),
        }
        .build(LOGS_SOURCE),
        Pass {
            category: "logs",
            retain: "90d",
            store: "app",
            target: "system_logs",
            action: Delete,
            reason: Expired,
            cutoff: Some("2026-08-25T03:00:00Z"),
            total: 0,
            matched: 0,
            held: 0,
            locked: 0,
            oldest: None,
        }
        .build(LOGS_SOURCE),
        Pass {
            category: "orders",
            retain: "7y",
            store: "app",
            target: "orders",
            action: Delete,
            reason: Expired,
            cutoff: Some("2019-11-23T03:00:00Z"),
            total: 91_000,
            matched: 412,
            held: 0,
            locked: 5,
            oldest: Some("2018-05-30T12:00:00Z"),
        }
        .build(ORDERS_SOURCE),
        Pass {
            category: "invoices",
            retain: "7y",
            store: "app",
            target: "invoices",
            action: Delete,
            reason: Expired,
            cutoff: Some("2019-11-23T03:00:00Z"),
            total: 88_000,
            matched: 0,
            held: 0,
            locked: 0,
            oldest: None,
        }
        .build(INVOICES_SOURCE),
    ];
    passes[4].guard = Guard::Refused(
        "1900000 of 2400000 records (79%) match, above the 50% guard: read the plan, then \
         allow it with --allow-mass-delete or `allow_mass_delete: true` in the rule"
            .into(),
    );
    passes[5].error = Some("table `system_logs` does not exist in store `app`".into());
    let report = Report {
        as_of: Some(at("2026-11-23T03:00:00Z")),
        run_id: None,
        passes,
        interrupted: false,
        partitions: Default::default(),
    };
    let mut invoices = category(
        "invoices",
        "Invoices printed for orders: invoice number, billing name and address, amounts and taxes.",
        INVOICES_SOURCE,
        "7y",
        Delete,
        Keep,
        1,
    );
    invoices.keep_reason = Some(
        "Tax and bookkeeping law requires invoices to be kept unaltered for 7 years (EU VAT \
         Directive art. 247 and national law)."
            .into(),
    );
    let extras = Extras {
        categories: vec![
            category("location", "Location information: country and city code, mobile network code, cell identity, latitude and longitude.", LOCATION_SOURCE, "90d", Anonymise, Delete, 1),
            category("messages", "Mi Talk and Mi Message chat history: message text, attachments, and the sender's and recipient's phone numbers.", MESSAGES_SOURCE, "1y", Delete, Delete, 2),
            category("logs", "Log information: IP addresses, browser type, ISP, referring and exit pages, date and time, clickstream.", LOGS_SOURCE, "90d", Delete, Delete, 2),
            category("orders", "Purchase orders: items, amounts, delivery address and status.", ORDERS_SOURCE, "7y", Delete, Anonymise, 1),
            invoices,
            category("forum", "Forum posts published under the user's forum name.", "Privacy Policy, 'Mi Community'", "forever", Keep, Anonymise, 1),
        ],
        requests: Some(request_fixture()),
        holds: Some(vec![
            HoldGroup { reason: "Litigation hold, matter 2026-CV-0412".into(), subjects: 2, until: None },
            HoldGroup { reason: "Fraud investigation".into(), subjects: 1, until: Some(at("2027-03-31T00:00:00Z")) },
        ]),
        problems: vec![RuleProblem {
            severity: Severity::Warning,
            message: "rules/messages.yaml:14: targets[0].subject: column `account_id` of `chat_messages` has no index; erasure requests will scan the table".into(),
        }],
        coverage: Some(coverage_fixture()),
    };
    (report, extras)
}

/// Two pending requests under the default 30-day deadline: one received 42 days before
/// the plan, whose subject has records in three targets, and one received the day
/// before, whose subject id matches nothing anywhere.
pub fn request_fixture() -> Vec<PendingRequest> {
    use Action::*;
    let request = |category, store, target, action, matched, held| {
        Pass {
            category,
            retain: "90d",
            store,
            target,
            action,
            reason: Reason::Request,
            cutoff: None,
            total: 0,
            matched,
            held,
            locked: 0,
            oldest: None,
        }
        .build("")
    };
    let survey = |passes| Report {
        as_of: Some(at("2026-11-23T03:00:00Z")),
        run_id: None,
        passes,
        interrupted: false,
        partitions: Default::default(),
    };
    let found = survey(vec![
        request("location", "app", "device_locations", Delete, 14, 0),
        request("messages", "app", "chat_messages", Delete, 9, 2),
        request("messages", "media", "chat-attachments/", Delete, 0, 0),
        request("orders", "app", "orders", Anonymise, 2, 0),
    ]);
    let nowhere = survey(vec![
        request("location", "app", "device_locations", Delete, 0, 0),
        request("messages", "app", "chat_messages", Delete, 0, 0),
        request("orders", "app", "orders", Anonymise, 0, 0),
    ]);
    vec![
        PendingRequest::new(
            "DSAR-2026-0117",
            at("2026-10-12T09:12:00Z"),
            Period::Days(30),
            Some(&found),
        ),
        PendingRequest::new(
            "DSAR-2026-0121",
            at("2026-11-22T17:45:00Z"),
            Period::Days(30),
            Some(&nowhere),
        ),
    ]
}

/// What `coverage` found in the scenario's stores: tables no rule covers (found by name,
/// by type, by a foreign key and by sampled values), a column the account rule's
/// anonymisation leaves, and two folders of objects under no prefix.
pub fn coverage_fixture() -> Coverage {
    let column = |table: &str,
                  column: &str,
                  type_name: &str,
                  kind: Kind,
                  evidence: Evidence,
                  gap: Gap,
                  suggested| {
        ColumnFinding {
            store: "app".into(),
            table: table.into(),
            column: column.into(),
            type_name: type_name.into(),
            kind,
            why: evidence.describe(kind),
            evidence,
            gap,
            suggested_category: suggested,
        }
    };
    let name = |w: &str| Evidence::Name { word: w.into() };
    Coverage {
        columns: vec![
            column(
                "accounts",
                "recovery_phone",
                "text",
                Kind::Phone,
                name("phone"),
                Gap::LeftByAnonymisation {
                    category: "account".into(),
                },
                "account",
            ),
            column(
                "support_tickets",
                "contact_email",
                "varchar",
                Kind::Email,
                name("email"),
                Gap::NoRule,
                "feedback",
            ),
            column(
                "support_tickets",
                "requester_id",
                "int8",
                Kind::PersonLink,
                Evidence::ForeignKey {
                    references: "accounts".into(),
                },
                Gap::NoRule,
                "feedback",
            ),
            column(
                "web_sessions",
                "peer",
                "inet",
                Kind::IpAddress,
                Evidence::Type {
                    type_name: "inet".into(),
                },
                Gap::NoRule,
                "logs",
            ),
            column(
                "imports",
                "notes",
                "text",
                Kind::Email,
                Evidence::Values {
                    matched: 37,
                    sampled: 50,
                },
                Gap::NoRule,
                "account",
            ),
        ],
        prefixes: vec![
            PrefixFinding {
                store: "media".into(),
                prefix: "avatars/".into(),
                objects: 1_204,
                suggested_category: None,
            },
            PrefixFinding {
                store: "media".into(),
                prefix: retention::coverage::objects::WITHHELD.into(),
                objects: 3,
                suggested_category: None,
            },
        ],
        stores: vec![
            StoreSummary {
                store: "app".into(),
                kind: "sql",
                tables: Some(42),
                personal_tables: Some(17),
                covered_tables: Some(14),
                sampled_columns: Some(23),
                objects_listed: None,
                listing_truncated: None,
                locked_objects: None,
            },
            StoreSummary {
                store: "media".into(),
                kind: "objects",
                tables: None,
                personal_tables: None,
                covered_tables: None,
                sampled_columns: None,
                objects_listed: Some(18_230),
                listing_truncated: Some(false),
                locked_objects: Some(14),
            },
        ],
        problems: vec![],
    }
}

/// The audit lines of a finished run: start, an erasure request's batch and outcome, a
/// held skip, a batch with its intent on another store, a refused target, and the end
/// with totals and what each pass planned and changed (the attachments changed 13 fewer
/// than planned).
pub const RUN_LINES: &[&str] = &[
    r#"{"v":1,"seq":801,"time":"2026-11-23T03:00:00.412Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"run_start","action":null,"reason":null,"category":null,"rule_sha256":null,"store":null,"target":null,"cutoff":null,"count":null,"keys_digest":null,"subject":null,"ticket":null,"outcome":"ok","config_sha256":"sha256:5f0c2a9d81e64b7f3c1e2d4a6b8c0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70812","rules_sha256":"sha256:9a8b7c6d5e4f30211f2e3d4c5b6a79880796a5b4c3d2e1f00f1e2d3c4b5a6978","dry_run":false,"prev":"sha256:1111111111111111111111111111111111111111111111111111111111111111"}"#,
    r#"{"v":1,"seq":802,"time":"2026-11-23T03:00:00.700Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"batch","action":"delete","reason":"request","category":"messages","rule_sha256":"sha256:bb","store":"app","target":"chat_messages","cutoff":null,"count":40,"keys_digest":"sha256:abad1deaabad1deaabad1deaabad1deaabad1deaabad1deaabad1deaabad1dea","subject":"hmac:3f9a1c:0d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff0011","ticket":"DSAR-2026-0117","outcome":"ok","dry_run":false,"prev":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
    r#"{"v":1,"seq":803,"time":"2026-11-23T03:00:01.020Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"request","action":"delete","reason":"request","category":null,"rule_sha256":null,"store":null,"target":null,"cutoff":null,"count":42,"keys_digest":null,"subject":"hmac:3f9a1c:0d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccddeeff0011","ticket":"DSAR-2026-0117","outcome":"ok","held":0,"dry_run":false,"prev":"sha256:2222222222222222222222222222222222222222222222222222222222222222"}"#,
    r#"{"v":1,"seq":804,"time":"2026-11-23T03:00:02.100Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"skip","action":"anonymise","reason":"expired","category":"location","rule_sha256":"sha256:aa","store":"app","target":"device_locations","cutoff":"2026-08-25T03:00:00Z","count":null,"keys_digest":null,"subject":null,"ticket":null,"outcome":"held","held":3,"locked":0,"dry_run":false,"prev":"sha256:3333333333333333333333333333333333333333333333333333333333333333"}"#,
    r#"{"v":1,"seq":805,"time":"2026-11-23T03:00:02.350Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"batch","action":"anonymise","reason":"expired","category":"location","rule_sha256":"sha256:aa","store":"app","target":"device_locations","cutoff":"2026-08-25T03:00:00Z","count":1000,"keys_digest":"sha256:c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00","subject":null,"ticket":null,"outcome":"ok","dry_run":false,"prev":"sha256:4444444444444444444444444444444444444444444444444444444444444444"}"#,
    r#"{"v":1,"seq":806,"time":"2026-11-23T03:00:02.610Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"batch","action":"anonymise","reason":"expired","category":"location","rule_sha256":"sha256:aa","store":"app","target":"device_locations","cutoff":"2026-08-25T03:00:00Z","count":200,"keys_digest":"sha256:beef0000beef0000beef0000beef0000beef0000beef0000beef0000beef0000","subject":null,"ticket":null,"outcome":"ok","dry_run":false,"prev":"sha256:5555555555555555555555555555555555555555555555555555555555555555"}"#,
    r#"{"v":1,"seq":807,"time":"2026-11-23T03:00:03.000Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"batch","action":"delete","reason":"expired","category":"messages","rule_sha256":"sha256:bb","store":"media","target":"chat-attachments/","cutoff":"2025-11-23T03:00:00Z","count":1000,"keys_digest":null,"subject":null,"ticket":null,"outcome":"intent","dry_run":false,"prev":"sha256:6666666666666666666666666666666666666666666666666666666666666666"}"#,
    r#"{"v":1,"seq":808,"time":"2026-11-23T03:00:04.120Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"batch","action":"delete","reason":"expired","category":"messages","rule_sha256":"sha256:bb","store":"media","target":"chat-attachments/","cutoff":"2025-11-23T03:00:00Z","count":987,"keys_digest":"sha256:d00dfeedd00dfeedd00dfeedd00dfeedd00dfeedd00dfeedd00dfeedd00dfeed","subject":null,"ticket":null,"outcome":"ok","dry_run":false,"prev":"sha256:7777777777777777777777777777777777777777777777777777777777777777"}"#,
    r#"{"v":1,"seq":809,"time":"2026-11-23T03:00:04.200Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"skip","action":"delete","reason":"expired","category":"logs","rule_sha256":"sha256:cc","store":"app","target":"web_access_logs","cutoff":"2026-08-25T03:00:00Z","count":null,"keys_digest":null,"subject":null,"ticket":null,"outcome":"refused","dry_run":false,"prev":"sha256:8888888888888888888888888888888888888888888888888888888888888888"}"#,
    r#"{"v":1,"seq":810,"time":"2026-11-23T03:00:04.950Z","run":"0193a1f2-7c4e-7d21-9a10-5b3e2c1d0f11","kind":"run_end","action":null,"reason":null,"category":null,"rule_sha256":null,"store":null,"target":null,"cutoff":null,"count":null,"keys_digest":null,"subject":null,"ticket":null,"outcome":"ok","totals":{"deleted":1027,"anonymised":1200,"held":3,"locked":0,"failed_targets":0},"passes":[{"category":"messages","store":"app","target":"chat_messages","action":"delete","reason":"request","ticket":"DSAR-2026-0117","planned":40,"done":40},{"category":"location","store":"app","target":"device_locations","action":"anonymise","reason":"expired","ticket":null,"planned":1200,"done":1200},{"category":"messages","store":"media","target":"chat-attachments/","action":"delete","reason":"expired","ticket":null,"planned":1000,"done":987},{"category":"logs","store":"app","target":"web_access_logs","action":"delete","reason":"expired","ticket":null,"planned":1900000,"done":0},{"category":"invoices","store":"app","target":"invoices","action":"delete","reason":"expired","ticket":null,"planned":0,"done":0}],"dry_run":false,"prev":"sha256:9999999999999999999999999999999999999999999999999999999999999999"}"#,
];

pub const RUN_CHECKPOINT: &str = "retention.example.com/audit\n810\nq6z0M1Hn6a0Tn3pG8fX2v1dR5s7u9w0y2A4C6E8G0I=\n\n— retention.example.com/audit Az3f8Q1x0Vb7yKp2mN4rT6wU8zX0cE2gH4jL6nP8rS0uW2yA4C6E8G0I2K4M6O8Q0S2U4W6Y8a0c2e4g6i8k0m2o4q6s8==\n";

pub fn run_fixture() -> Vec<RunEntry> {
    RUN_LINES
        .iter()
        .map(|l| RunEntry::parse(l.as_bytes()).expect("a valid audit line"))
        .collect()
}

#[test]
fn the_markdown_plan_matches_its_snapshot() {
    let (r, e) = plan_fixture();
    expect_file!["snapshots/plan.md"].assert_eq(&report::md::plan(&r, &e));
}

#[test]
fn the_csv_plan_matches_its_snapshot() {
    let (r, _) = plan_fixture();
    let csv = report::csv::plan(&r);
    // RFC 4180 ends records with CRLF; the snapshot file is kept with plain newlines
    // (expect-test reads files with normalised line endings).
    assert!(csv.ends_with("\r\n") && !csv.replace("\r\n", "").contains('\n'));
    expect_file!["snapshots/plan.csv"].assert_eq(&csv.replace("\r\n", "\n"));
}

#[test]
fn the_json_plan_matches_its_snapshot() {
    let (r, _) = plan_fixture();
    let json = serde_json::to_string_pretty(&report::json::plan(&r)).unwrap() + "\n";
    expect_file!["snapshots/plan.json"].assert_eq(&json);
}

#[test]
fn the_markdown_run_report_matches_its_snapshot() {
    expect_file!["snapshots/run.md"]
        .assert_eq(&report::run::md(&run_fixture(), Some(RUN_CHECKPOINT)));
}

#[test]
fn the_example_reports_under_docs_are_current() {
    let (r, e) = plan_fixture();
    expect_file!["../../docs/examples/plan.md"].assert_eq(&report::md::plan(&r, &e));
    expect_file!["../../docs/examples/plan.html"].assert_eq(&report::html::plan(&r, &e));
    // The example run was made with the shipped rules, so its report shows their kept
    // categories and policy clauses.
    let rules = crate::compliance::shipped_rules();
    let mut entries = run_fixture();
    entries[0].rules_sha256 = Some(rules.digest.clone());
    expect_file!["../../docs/examples/run.html"].assert_eq(&report::run::html_with_rules(
        &entries,
        Some(RUN_CHECKPOINT),
        Some(&rules),
    ));
    expect_file!["../../docs/examples/coverage.html"].assert_eq(&report::coverage::html(
        &coverage_fixture(),
        at("2026-11-23T03:00:00Z"),
    ));
}

#[test]
fn the_csv_plan_has_one_row_per_pass_with_every_column() {
    let (r, _) = plan_fixture();
    let csv = report::csv::plan(&r);
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + r.passes.len());
    // The header holds no quoted field, so a plain split counts its columns.
    let header = lines[0].split(',').count();
    assert!(lines[0].starts_with("as_of,category,source,retain,cutoff,"));
    assert_eq!(header, 19);
}

#[test]
fn an_html_plan_loads_nothing_from_the_network_and_runs_no_script() {
    let (r, e) = plan_fixture();
    let html = report::html::plan(&r, &e);
    for forbidden in ["<script", "<link", "@import", "url(", "<img", "<iframe"] {
        assert!(!html.contains(forbidden), "the page contains {forbidden}");
    }
    let without_svg_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_svg_namespace.contains("http://"));
    assert!(!without_svg_namespace.contains("https://"));
    assert!(html.contains("@media print"));
    assert_eq!(
        html.matches("<svg").count(),
        5,
        "one chart per category with targets"
    );
}

#[test]
fn a_refused_target_is_explained_and_not_counted_as_changed() {
    let (r, e) = plan_fixture();
    let md = report::md::plan(&r, &e);
    assert!(
        md.contains(
            "| logs | delete after 90d; delete on erasure | 2026-08-25 03:00 UTC | 2,400,000 | 0 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("> **refused** `app/web_access_logs`: 1900000 of 2400000 records (79%) match")
    );
    // Expired and flagged records, and those the two pending erasure requests name.
    assert!(md.contains("**22,925** records would be deleted or anonymised"));
}

#[test]
fn a_plan_that_did_not_read_the_request_queue_says_so_instead_of_claiming_none() {
    let (r, mut e) = plan_fixture();
    e.requests = None;
    e.holds = None;
    let md = report::md::plan(&r, &e);
    assert!(md.contains("The request queue was not read for this report."));
    assert!(md.contains("Legal holds were not read for this report."));
    e.requests = Some(Vec::new());
    let md = report::md::plan(&r, &e);
    assert!(md.contains("None: every erasure request has been processed."));
}

#[test]
fn run_reports_never_show_subject_pseudonyms_or_key_digests() {
    let entries = run_fixture();
    for out in [
        report::run::md(&entries, None),
        report::run::html(&entries, None),
    ] {
        assert!(!out.contains("hmac:"), "a pseudonym leaked");
        for digest in ["c0ffee00", "beef0000", "d00dfeed", "abad1dea"] {
            assert!(!out.contains(digest), "a keys digest leaked");
        }
        assert!(out.contains("DSAR-2026-0117"));
    }
}

#[test]
fn a_run_without_its_end_entry_is_reported_as_unfinished() {
    let mut entries = run_fixture();
    entries.retain(|e| e.kind != "run_end" && e.seq != 808);
    let md = report::run::md(&entries, None);
    assert!(
        md.contains("**Status:** no run_end entry: interrupted, or still running"),
        "{md}"
    );
    // Without its end, the log has no planned figures: nothing is flagged against them.
    assert!(md.contains("| messages | `media/chat-attachments/` | delete | expired | – | 0 | 0 | 0 | 0 | unfinished |"), "{md}");
    assert!(md.contains("Planned figures are not in this log"), "{md}");
}

#[test]
fn a_run_is_sealed_by_the_first_checkpoint_that_holds_its_last_entry() {
    let entries = run_fixture();
    let notes = [
        (800, "before"),
        (1000, "later"),
        (810, "sealing"),
        (5, "old"),
    ];
    assert_eq!(
        report::run::covering_checkpoint(&entries, notes),
        Some("sealing")
    );
    assert_eq!(
        report::run::covering_checkpoint(&entries, [(800, "before")]),
        None
    );
}
