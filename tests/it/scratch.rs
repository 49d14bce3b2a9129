use crate::support::db::{Db, TestDb};
use retention::config::*;
use retention::ident::Ident;
use retention::rules::*;
use std::collections::BTreeMap;

fn id(s: &str) -> Ident {
    Ident::parse(s).unwrap()
}

async fn go(kind: Db) {
    let db = TestDb::fresh(kind).await;
    let ts = match kind {
        Db::Postgres => "TIMESTAMPTZ",
        Db::MySql => "DATETIME(6)",
        Db::Sqlite => "TEXT",
    };
    let old = match kind {
        Db::MySql => "'2020-01-01 00:00:00'",
        _ => "'2020-01-01T00:00:00Z'",
    };
    db.exec(&format!("CREATE TABLE accounts (id BIGINT PRIMARY KEY, created_at {ts} NULL, flag {ts} NULL);
      CREATE TABLE sessions (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, started_at {ts} NULL, FOREIGN KEY (account_id) REFERENCES accounts (id));
      CREATE TABLE locs (id BIGINT PRIMARY KEY, account_id BIGINT, recorded_at {ts} NULL, lat DOUBLE PRECISION, ip VARCHAR(45), anon_at {ts} NULL);
      INSERT INTO accounts VALUES (1, {old}, NULL);
      INSERT INTO accounts VALUES (2, NULL, NULL);
      INSERT INTO sessions VALUES (10, 1, {old});
      INSERT INTO locs VALUES (20, 1, {old}, 51.5073, '203.0.113.7', NULL)")).await;
    let mut stores = BTreeMap::new();
    stores.insert(
        "app".to_string(),
        StoreConfig::Sql {
            url: db.url.clone().into(),
        },
    );
    let config = Config {
        path: "x".into(),
        base_dir: ".".into(),
        stores,
        state: "app".into(),
        audit: AuditConfig {
            pseudonym_key: "k".repeat(32).into(),
            signing_key: None,
            export: None,
            file: None,
        },
        rules_dir: ".".into(),
        subjects: None,
        defaults: Default::default(),
        digest: "sha256:0".into(),
    };
    let t = |table: &str, ts: &str, subject: &str| TableTarget {
        store: "app".into(),
        table: id(table),
        key: vec![id("id")],
        timestamp: Some(TimestampColumn {
            column: id(ts),
            unit: TimeUnit::Native,
        }),
        subject: Some(SubjectColumn::Column(id(subject))),
        erasure_flag: None,
        filter: vec![],
        anonymise: vec![],
        marker: None,
    };
    let rule = |cat: &str, on_expiry: Action, target: TableTarget| Rule {
        category: cat.into(),
        file: "f".into(),
        description: String::new(),
        source: String::new(),
        retain: "30d".parse().unwrap(),
        on_expiry,
        on_erasure: Action::Delete,
        keep_reason: None,
        schedule: None,
        allow_mass_delete: true,
        sha256: "sha256:1".into(),
        targets: vec![Target::Table(target)],
    };
    let mut acc = t("accounts", "created_at", "id");
    acc.erasure_flag = Some(id("flag"));
    let mut loc = t("locs", "recorded_at", "account_id");
    loc.anonymise = vec![
        (id("lat"), ColumnStrategy::Round(1)),
        (id("ip"), ColumnStrategy::TruncateIp),
    ];
    loc.marker = Some(id("anon_at"));
    let rules = RuleSet {
        rules: vec![
            rule("accounts", Action::Delete, acc),
            rule("locs", Action::Anonymise, loc),
            rule(
                "sessions",
                Action::Delete,
                t("sessions", "started_at", "account_id"),
            ),
        ],
        digest: "sha256:2".into(),
    };
    let ws = retention::workspace::Workspace::connect(config, rules)
        .await
        .unwrap();
    retention::state::migrate::migrate(ws.state().unwrap())
        .await
        .unwrap();
    let opts = retention::execute::Options {
        as_of: chrono::Utc::now(),
        rules: vec![],
        shard: None,
        allow_mass_delete: false,
    };
    let r = retention::execute::survey(&ws, &opts, &[]).await.unwrap();
    println!("{}", retention::report::text::plan(&r));
    let audit = retention::audit::AuditLog::new(
        &ws.config.audit,
        ws.state().unwrap().clone(),
        "run1".into(),
        false,
    );
    let r = retention::execute::enforce(&ws, &opts, &[], &audit, Default::default())
        .await
        .unwrap();
    println!("{}", retention::report::text::summary(&r));
    assert!(!r.failed(), "{r:?}");
    assert_eq!(db.count("SELECT COUNT(*) FROM accounts").await, 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM sessions").await, 0);
    println!(
        "{:?}",
        db.texts("SELECT CAST(lat AS CHAR(20)) FROM locs").await
    );
    println!("{:?}", db.texts("SELECT ip FROM locs").await);
    let r = retention::execute::enforce(&ws, &opts, &[], &audit, Default::default())
        .await
        .unwrap();
    assert_eq!(r.passes.iter().map(|p| p.done).sum::<u64>(), 0);
}
#[tokio::test]
async fn scratch_pg() {
    go(Db::Postgres).await
}
#[tokio::test]
async fn scratch_my() {
    go(Db::MySql).await
}
#[tokio::test]
async fn scratch_lite() {
    go(Db::Sqlite).await
}

#[tokio::test]
#[ignore]
async fn scratch_bench() {
    let db = TestDb::fresh(Db::Postgres).await;
    for t in ["ours", "raw"] {
        db.exec(&format!("CREATE TABLE ev_{t} (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL, payload TEXT, created_at TIMESTAMPTZ NOT NULL);
        INSERT INTO ev_{t} SELECT g, g % 50000, md5(g::text), now() - CASE WHEN g % 2 = 0 THEN interval '100 days' + (g % 525600) * interval '1 minute' ELSE (g % 40000) * interval '1 minute' END FROM generate_series(1, 1000000) g;
        CREATE INDEX ON ev_{t} (created_at); VACUUM ANALYZE ev_{t}")).await;
    }
    let mut stores = BTreeMap::new();
    stores.insert(
        "app".to_string(),
        StoreConfig::Sql {
            url: db.url.clone().into(),
        },
    );
    let config = Config {
        path: "x".into(),
        base_dir: ".".into(),
        stores,
        state: "app".into(),
        audit: AuditConfig {
            pseudonym_key: "k".repeat(32).into(),
            signing_key: None,
            export: None,
            file: None,
        },
        rules_dir: ".".into(),
        subjects: None,
        defaults: Default::default(),
        digest: "sha256:0".into(),
    };
    let target = TableTarget {
        store: "app".into(),
        table: id("ev_ours"),
        key: vec![id("id")],
        timestamp: Some(TimestampColumn {
            column: id("created_at"),
            unit: TimeUnit::Native,
        }),
        subject: None,
        erasure_flag: None,
        filter: vec![],
        anonymise: vec![],
        marker: None,
    };
    let rules = RuleSet {
        rules: vec![Rule {
            category: "ev".into(),
            file: "f".into(),
            description: String::new(),
            source: String::new(),
            retain: "30d".parse().unwrap(),
            on_expiry: Action::Delete,
            on_erasure: Action::Delete,
            keep_reason: None,
            schedule: None,
            allow_mass_delete: true,
            sha256: "sha256:1".into(),
            targets: vec![Target::Table(target)],
        }],
        digest: "x".into(),
    };
    let ws = retention::workspace::Workspace::connect(config, rules)
        .await
        .unwrap();
    retention::state::migrate::migrate(ws.state().unwrap())
        .await
        .unwrap();
    let opts = retention::execute::Options {
        as_of: chrono::Utc::now(),
        rules: vec![],
        shard: None,
        allow_mass_delete: false,
    };
    let audit = retention::audit::AuditLog::new(
        &ws.config.audit,
        ws.state().unwrap().clone(),
        "run1".into(),
        false,
    );
    let t0 = std::time::Instant::now();
    let _ = retention::execute::survey(&ws, &opts, &[]).await.unwrap();
    println!("survey {:?}", t0.elapsed());
    let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
    let t0 = std::time::Instant::now();
    let r = retention::execute::enforce(&ws, &opts, &[], &audit, Default::default())
        .await
        .unwrap();
    let ours = t0.elapsed();
    println!("{}", retention::report::text::summary(&r));
    let t0 = std::time::Instant::now();
    db.exec("DELETE FROM ev_raw WHERE created_at < now() - interval '30 days'")
        .await;
    let raw = t0.elapsed();
    println!("ours {ours:?} raw {raw:?} batches {}", r.passes[0].batches);
}
