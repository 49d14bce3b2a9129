//! Synthetic data for `retention demo`: a configuration, the shipped rules, a SQLite
//! database with every table they name, and a directory of objects.
//!
//! Everything is deterministic (a seeded RNG, ages relative to `as_of`), so two demos
//! on the same `as_of` plan the same work. Each table gets a mix the demo can show off:
//! fresh rows, expired rows, rows the application flagged for erasure, and rows whose
//! timestamp is NULL (open accounts, undelivered parcels), which never expire. Ages are
//! drawn away from each rule's cutoff so that a child row and its parent always expire
//! together. No person is real: names and addresses are made up, emails end in
//! `example.test`.

use crate::rules::shipped;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Sqlite, Transaction};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where the demo's pieces were created.
#[derive(Debug, Clone)]
pub struct DemoPaths {
    pub config: PathBuf,
    pub database: PathBuf,
    pub media: PathBuf,
}

/// The demo configuration. The key is inline so the demo needs no environment; a real
/// configuration takes it from `${RETENTION_PSEUDONYM_KEY}`.
const CONFIG: &str = "\
# retention demo: SQLite and a local directory, created by `retention demo`.
stores:
  app:
    url: sqlite://demo.db
  media:
    dir: ./media
state: app
audit:
  # A fixed DEMO key, public in the source code. Never use it for real data: take the
  # key from the environment, e.g. pseudonym_key: ${RETENTION_PSEUDONYM_KEY}.
  pseudonym_key: demo-pseudonym-key-not-secret-0123456789abcdef
  # A signing key made for this demo directory, so the log gets signed checkpoints, and
  # the log's name, which every checkpoint and `audit verify` check.
  signing_key: {signing_key}
  origin: retention-demo
rules: ./rules
subjects:
  lookup: {store: app, table: accounts, key: id, by: [email, phone]}
defaults:
  batch_size: 100
  batch_time: 250ms
  max_fraction: 0.5
";

const ACCOUNTS: i64 = 50;

/// Creates the demo under `dir` (which is created if missing). Existing demo files
/// there are replaced, so a rerun starts from the same state.
pub async fn seed(dir: &Path, as_of: DateTime<Utc>) -> Result<DemoPaths> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = dir.join("retention.yaml");
    // A fresh Ed25519 key per demo directory: checkpoints get signed, and no key is
    // shared between demos.
    let (signing_key, _verifier) = crate::audit::checkpoint::keygen("retention-demo")
        .map_err(|e| anyhow::anyhow!("making the demo's signing key: {e}"))?;
    std::fs::write(&config, CONFIG.replace("{signing_key}", &signing_key))
        .with_context(|| format!("cannot write {}", config.display()))?;
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules)
        .with_context(|| format!("cannot create {}", rules.display()))?;
    for (name, text) in shipped::FILES {
        let path = rules.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }

    let database = dir.join("demo.db");
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", database.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot replace {}", p.display()))?;
        }
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", database.display()))
        .context("demo database path")?
        .create_if_missing(true)
        .foreign_keys(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot create {}", database.display()))?;
    let mut tx = conn
        .begin()
        .await
        .context("cannot start the demo transaction")?;
    for statement in SCHEMA.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot create the demo schema: {statement}"))?;
    }
    let mut rng = StdRng::seed_from_u64(17);
    let mut g = Gen {
        rng: &mut rng,
        as_of,
    };
    rows(&mut g, &mut tx).await?;
    tx.commit().await.context("cannot commit the demo data")?;
    conn.close()
        .await
        .context("cannot close the demo database")?;

    let media = dir.join("media");
    objects(&media, as_of, &mut rng)?;
    Ok(DemoPaths {
        config,
        database,
        media,
    })
}

/// Draws ages and values.
struct Gen<'r> {
    rng: &'r mut StdRng,
    as_of: DateTime<Utc>,
}

/// A value to bind. Times are bound as `DateTime<Utc>` so their text form in SQLite is
/// the one sqlx writes, which is the one the tool compares against.
enum V {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Time(DateTime<Utc>),
    Date(NaiveDate),
}

fn t(s: impl Into<String>) -> V {
    V::Text(s.into())
}

fn opt_time(x: Option<DateTime<Utc>>) -> V {
    x.map_or(V::Null, V::Time)
}

impl Gen<'_> {
    /// A time `days` of retention ago: mostly fresh (10–80 % of the period), about a
    /// third expired (120–250 %), never near the cutoff itself.
    fn aged(&mut self, days: f64) -> DateTime<Utc> {
        let share = if self.rng.gen_bool(0.35) {
            self.rng.gen_range(1.2..2.5)
        } else {
            self.rng.gen_range(0.1..0.8)
        };
        self.ago(days * share)
    }

    /// Like [`aged`](Self::aged), or NULL with probability `null`.
    fn aged_or_null(&mut self, days: f64, null: f64) -> Option<DateTime<Utc>> {
        (!self.rng.gen_bool(null)).then(|| self.aged(days))
    }

    fn ago(&mut self, days: f64) -> DateTime<Utc> {
        // Whole minutes keep the data readable; the jitter spreads rows across a day.
        let minutes = (days * 1440.0) as i64 + self.rng.gen_range(0..600);
        self.as_of - Duration::minutes(minutes)
    }

    /// A recent flag (the application marked the row for erasure), with probability `p`.
    fn flag(&mut self, p: f64) -> V {
        if self.rng.gen_bool(p) {
            let days = self.rng.gen_range(0.0..5.0);
            V::Time(self.ago(days))
        } else {
            V::Null
        }
    }

    fn account(&mut self) -> i64 {
        self.rng.gen_range(1..=ACCOUNTS)
    }

    fn ip(&mut self) -> String {
        format!("203.0.113.{}", self.rng.gen_range(1..255))
    }

    fn phone(&mut self) -> String {
        format!("+44 7700 900{:03}", self.rng.gen_range(0..1000))
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.gen_range(0..items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.gen_range(0..10u8)))
            .collect()
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi", "Lena",
];
const LAST: &[&str] = &[
    "Abbot", "Berg", "Costa", "Dube", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jansen",
];
const STREETS: &[&str] = &[
    "Harbour Road",
    "Mill Lane",
    "Station Street",
    "Park Avenue",
    "Church Walk",
];
const MODELS: &[&str] = &["Mi 11", "Redmi Note 10", "POCO X3", "Mi 10T", "Redmi 9"];

fn name(g: &mut Gen, i: i64) -> String {
    format!("{} {}", FIRST[i as usize % FIRST.len()], g.pick(LAST))
}

fn address(g: &mut Gen) -> String {
    let n = g.rng.gen_range(1..200);
    format!("{n} {}, Testville", g.pick(STREETS))
}

async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<V>>,
) -> Result<()> {
    // Table and column names are literals of this module, never input.
    let marks = vec!["?"; columns.len()].join(", ");
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({marks})",
        columns.join(", ")
    );
    for row in rows {
        let mut q = sqlx::query(&sql);
        for v in row {
            q = match v {
                V::Null => q.bind(Option::<i64>::None),
                V::Int(i) => q.bind(i),
                V::Real(f) => q.bind(f),
                V::Text(s) => q.bind(s),
                V::Time(t) => q.bind(t),
                V::Date(d) => q.bind(d),
            };
        }
        q.execute(&mut **tx)
            .await
            .with_context(|| format!("cannot insert demo rows into {table}"))?;
    }
    Ok(())
}

async fn rows(g: &mut Gen<'_>, tx: &mut Transaction<'_, Sqlite>) -> Result<()> {
    // Accounts: most are open (closed_at NULL never expires), some closed long ago,
    // a few flagged for erasure by the app.
    let mut rs = Vec::new();
    for id in 1..=ACCOUNTS {
        let days = g.rng.gen_range(400.0..2000.0);
        let created = g.ago(days);
        let closed = if g.rng.gen_bool(0.3) {
            Some(g.aged(30.0))
        } else {
            None
        };
        let birthday = NaiveDate::from_ymd_opt(
            1960 + (id as i32 % 40),
            1 + (id as u32 % 12),
            1 + (id as u32 % 28),
        );
        rs.push(vec![
            V::Int(id),
            t(format!("user{id}@example.test")),
            t(g.phone()),
            t(name(g, id)),
            birthday.map_or(V::Null, V::Date),
            t(g.pick(&["female", "male", "undisclosed"])),
            t("First pet's name?"),
            t(format!("$argon2id$v=19$demo${}", g.digits(16))),
            V::Time(created),
            opt_time(closed),
            g.flag(0.06),
        ]);
    }
    insert(
        tx,
        "accounts",
        &[
            "id",
            "email",
            "phone",
            "display_name",
            "birthday",
            "gender",
            "security_question",
            "password_hash",
            "created_at",
            "closed_at",
            "erase_requested_at",
        ],
        rs,
    )
    .await?;

    // Devices; each has a few SIM activation failures dated near its last sighting, so a
    // failure never outlives its device.
    let mut devices = Vec::new();
    let mut failures = Vec::new();
    for id in 1..=120 {
        let seen = g.aged(365.0);
        let account = g.account();
        devices.push(vec![
            V::Int(id),
            V::Int(account),
            t(format!("86{}", g.digits(13))),
            t(format!("460{}", g.digits(12))),
            t(format!(
                "02:00:5e:{:02x}:{:02x}:{:02x}",
                g.rng.gen::<u8>(),
                g.rng.gen::<u8>(),
                g.rng.gen::<u8>()
            )),
            t(g.digits(16)),
            t(g.pick(MODELS)),
            t("MIUI 12.5"),
            t(g.pick(&["Vodafone", "O2", "EE", "Three"])),
            V::Time(seen - Duration::days(400)),
            V::Time(seen),
            g.flag(0.04),
        ]);
        for _ in 0..g.rng.gen_range(0..3) {
            let failed = seen - Duration::days(g.rng.gen_range(40..60));
            failures.push(vec![
                V::Int(id),
                t(format!("460{}", g.digits(12))),
                t("234"),
                t("15"),
                V::Int(g.rng.gen_range(1000..9000)),
                V::Int(g.rng.gen_range(10_000..99_999)),
                V::Time(failed),
            ]);
        }
    }
    // Recent failures too, so the table is not all expired.
    for _ in 0..40 {
        let failed = g.aged(30.0);
        failures.push(vec![
            V::Int(g.rng.gen_range(1..=120)),
            t(format!("460{}", g.digits(12))),
            t("234"),
            t("10"),
            V::Int(1234),
            V::Int(54321),
            V::Time(failed),
        ]);
    }
    insert(
        tx,
        "device_registrations",
        &[
            "id",
            "account_id",
            "imei",
            "imsi",
            "mac_address",
            "android_id",
            "model",
            "miui_version",
            "network_operator",
            "registered_at",
            "last_seen_at",
            "erase_requested_at",
        ],
        devices,
    )
    .await?;
    insert(
        tx,
        "sim_activation_failures",
        &[
            "device_registration_id",
            "imsi",
            "mcc",
            "mnc",
            "location_area_code",
            "cell_id",
            "failed_at",
        ],
        failures,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..300 {
        let at = g.aged(90.0);
        let (lat, lon) = (
            51.0 + g.rng.gen_range(0.0..1.0),
            -0.5 + g.rng.gen_range(0.0..1.0),
        );
        rs.push(vec![
            V::Int(g.account()),
            V::Time(at),
            V::Real(lat),
            V::Real(lon),
            V::Int(g.rng.gen_range(10_000..99_999)),
            V::Int(g.rng.gen_range(1000..9000)),
            t("234"),
            t("15"),
            t("GB"),
            t("LON"),
            t(g.pick(&["gps", "gps", "network", "manual"])),
        ]);
    }
    insert(
        tx,
        "device_locations",
        &[
            "account_id",
            "recorded_at",
            "latitude",
            "longitude",
            "cell_id",
            "location_area_code",
            "mcc",
            "mnc",
            "country_code",
            "city_code",
            "source",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..200 {
        let at = g.aged(7.0);
        rs.push(vec![
            V::Int(g.account()),
            t(format!("dev-{}", g.digits(6))),
            V::Real(51.5 + g.rng.gen_range(-0.1..0.1)),
            V::Real(g.rng.gen_range(-0.2..0.2)),
            V::Int(g.rng.gen_range(5..500)),
            V::Time(at),
        ]);
    }
    insert(
        tx,
        "find_device_locations",
        &[
            "account_id",
            "device_id",
            "latitude",
            "longitude",
            "accuracy_m",
            "located_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..400 {
        let at = g.aged(90.0);
        let account = if g.rng.gen_bool(0.3) {
            V::Null
        } else {
            V::Int(g.account())
        };
        rs.push(vec![
            account,
            t(g.ip()),
            t("Mozilla/5.0 (Linux; Android 11)"),
            t("GET"),
            t(g.pick(&["/", "/shop", "/account", "/support"])),
            V::Int(200),
            t("https://www.example.test/"),
            V::Time(at),
        ]);
    }
    insert(
        tx,
        "web_access_logs",
        &[
            "account_id",
            "ip_address",
            "user_agent",
            "method",
            "path",
            "status",
            "referrer",
            "logged_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..300 {
        let at = g.aged(90.0);
        rs.push(vec![
            V::Int(g.account()),
            t(g.pick(&["info", "warn", "error"])),
            t(g.pick(&["sync", "auth", "push"])),
            t("request handled"),
            V::Int(at.timestamp_millis()),
        ]);
    }
    insert(
        tx,
        "system_logs",
        &["account_id", "level", "component", "message", "logged_ms"],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..250 {
        let at = g.aged(395.0);
        rs.push(vec![
            V::Int(g.account()),
            t(format!("ck_{}", g.digits(12))),
            t(g.ip()),
            t(g.pick(&["all", "necessary", "analytics"])),
            V::Time(at),
            V::Time(at + Duration::days(395)),
        ]);
    }
    insert(
        tx,
        "web_cookies",
        &[
            "account_id",
            "cookie_id",
            "ip_address",
            "consent",
            "created_at",
            "expires_at",
        ],
        rs,
    )
    .await?;

    // Orders with items, deliveries and invoices. Items share their order's time;
    // deliveries arrive within days; invoices are issued on the order day.
    let (mut orders, mut items, mut deliveries, mut invoices) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for id in 1..=200 {
        let account = g.account();
        // Half the orders are within the 2-year delivery window, the rest spread over 14
        // years so that some pass the 7-year tax period.
        let placed = if g.rng.gen_bool(0.5) {
            g.aged(730.0)
        } else {
            g.aged(2557.0)
        };
        let number = format!("SO-{}", 100_000 + id);
        let customer = name(g, account);
        orders.push(vec![
            V::Int(id),
            V::Int(account),
            t(number.clone()),
            V::Time(placed),
            V::Int(g.rng.gen_range(999..99_999)),
            t("GBP"),
            t(customer.clone()),
            t(format!("user{account}@example.test")),
            t(g.phone()),
            t(address(g)),
            t(g.ip()),
        ]);
        for _ in 0..g.rng.gen_range(1..4) {
            let gift = if g.rng.gen_bool(0.2) {
                t("Happy birthday!")
            } else {
                V::Null
            };
            items.push(vec![
                V::Int(id),
                t(format!("SKU-{}", g.digits(5))),
                t(g.pick(MODELS)),
                V::Int(g.rng.gen_range(1..3)),
                V::Int(g.rng.gen_range(999..49_999)),
                gift,
                V::Time(placed),
            ]);
        }
        // Undelivered parcels (NULL delivered_at) are kept until they arrive.
        let delivered =
            (!g.rng.gen_bool(0.05)).then(|| placed + Duration::days(g.rng.gen_range(1..5)));
        deliveries.push(vec![
            V::Int(id),
            t(g.pick(&["DPD", "Royal Mail", "UPS"])),
            t(format!("TRK{}", g.digits(10))),
            t(customer.clone()),
            t(address(g)),
            t(format!("TV{} 1AB", g.rng.gen_range(1..9))),
            t(g.phone()),
            V::Time(placed + Duration::hours(20)),
            opt_time(delivered),
        ]);
        invoices.push(vec![
            V::Int(account),
            t(number),
            t(format!("INV-{}", 500_000 + id)),
            V::Time(placed),
            t(customer),
            t(address(g)),
            V::Int(g.rng.gen_range(999..80_000)),
            V::Int(g.rng.gen_range(100..16_000)),
        ]);
    }
    insert(
        tx,
        "orders",
        &[
            "id",
            "account_id",
            "order_number",
            "placed_at",
            "total_cents",
            "currency",
            "customer_name",
            "email",
            "phone",
            "billing_address",
            "ip_address",
        ],
        orders,
    )
    .await?;
    insert(
        tx,
        "order_items",
        &[
            "order_id",
            "sku",
            "description",
            "quantity",
            "unit_price_cents",
            "gift_message",
            "created_at",
        ],
        items,
    )
    .await?;
    insert(
        tx,
        "deliveries",
        &[
            "order_id",
            "carrier",
            "tracking_number",
            "recipient_name",
            "address",
            "postal_code",
            "phone",
            "shipped_at",
            "delivered_at",
        ],
        deliveries,
    )
    .await?;
    insert(
        tx,
        "invoices",
        &[
            "account_id",
            "order_number",
            "invoice_number",
            "issued_at",
            "billing_name",
            "billing_address",
            "net_cents",
            "vat_cents",
        ],
        invoices,
    )
    .await?;

    // Mi Cloud: live items have deleted_at NULL; deleted ones sit in the recycle bin.
    for (table, columns) in [
        (
            "cloud_contacts",
            [
                "account_id",
                "display_name",
                "phone",
                "email",
                "synced_at",
                "deleted_at",
            ],
        ),
        (
            "cloud_call_logs",
            [
                "account_id",
                "number",
                "direction",
                "duration_s",
                "synced_at",
                "deleted_at",
            ],
        ),
        (
            "cloud_sms",
            [
                "account_id",
                "counterpart",
                "body",
                "sent_at",
                "synced_at",
                "deleted_at",
            ],
        ),
    ] {
        let mut rs = Vec::new();
        for i in 0..250 {
            let deleted = g.aged_or_null(30.0, 0.6);
            let days = g.rng.gen_range(60.0..900.0);
            let synced = g.ago(days);
            let account = g.account();
            let third = match table {
                "cloud_contacts" => t(format!("user{}@example.test", 1000 + i)),
                "cloud_call_logs" => V::Int(g.rng.gen_range(5..1800)),
                _ => V::Time(synced),
            };
            let second = match table {
                "cloud_call_logs" => t(g.pick(&["in", "out", "missed"])),
                "cloud_sms" => t("See you at 6"),
                _ => t(g.phone()),
            };
            let first = match table {
                "cloud_contacts" => t(name(g, i)),
                _ => t(g.phone()),
            };
            rs.push(vec![
                V::Int(account),
                first,
                second,
                third,
                V::Time(synced),
                opt_time(deleted),
            ]);
        }
        insert(tx, table, &columns, rs).await?;
    }

    let mut rs = Vec::new();
    for _ in 0..300 {
        let at = g.aged(365.0);
        rs.push(vec![
            t(format!("conv-{}", g.rng.gen_range(1..60))),
            V::Int(g.account()),
            t(g.phone()),
            t("Are we still on for Saturday?"),
            V::Time(at),
            g.flag(0.05),
        ]);
    }
    insert(
        tx,
        "chat_messages",
        &[
            "conversation_id",
            "sender_account_id",
            "recipient_phone",
            "body",
            "sent_at",
            "erase_requested_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for i in 0..300 {
        let at = g.aged(30.0);
        rs.push(vec![
            t(format!("msg-{i}")),
            V::Int(g.account()),
            t(g.phone()),
            t(g.phone()),
            V::Int(at.timestamp()),
        ]);
    }
    insert(
        tx,
        "message_routes",
        &[
            "message_id",
            "sender_account_id",
            "sender_phone",
            "recipient_phone",
            "routed_at",
        ],
        rs,
    )
    .await?;

    let (mut feedback, mut replies) = (Vec::new(), Vec::new());
    for id in 1..=150 {
        let account = g.account();
        let at = g.aged(730.0);
        let resolved = g.rng.gen_bool(0.7).then(|| at + Duration::days(3));
        feedback.push(vec![
            V::Int(id),
            V::Int(account),
            t(format!("user{account}@example.test")),
            t(g.pick(MODELS)),
            t("The camera app freezes when I switch to night mode."),
            V::Time(at),
            opt_time(resolved),
        ]);
        for n in 0..g.rng.gen_range(0..3) {
            replies.push(vec![
                V::Int(id),
                t("support agent"),
                t("Thanks, could you send a log?"),
                V::Time(at + Duration::hours(4 + 20 * n)),
            ]);
        }
    }
    insert(
        tx,
        "feedback",
        &[
            "id",
            "account_id",
            "email",
            "device_model",
            "body",
            "submitted_at",
            "resolved_at",
        ],
        feedback,
    )
    .await?;
    insert(
        tx,
        "feedback_replies",
        &["feedback_id", "agent", "body", "sent_at"],
        replies,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..250 {
        let at = g.aged(90.0);
        rs.push(vec![
            V::Int(g.account()),
            t(g.pick(MODELS)),
            t("12.5.1"),
            t("java.lang.NullPointerException at com.example.Camera"),
            t(g.ip()),
            V::Time(at),
        ]);
    }
    insert(
        tx,
        "crash_reports",
        &[
            "account_id",
            "device_model",
            "app_version",
            "stack_trace",
            "ip_address",
            "reported_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..400 {
        let at = g.aged(395.0);
        rs.push(vec![
            V::Int(g.account()),
            t(g.pick(&["app_open", "page_view", "session_end"])),
            t(g.pick(&["home", "settings", "gallery"])),
            t(format!("s-{}", g.digits(8))),
            V::Int(at.timestamp_millis()),
        ]);
    }
    insert(
        tx,
        "ux_events",
        &[
            "account_id",
            "event_name",
            "page",
            "session_id",
            "occurred_ms",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..200 {
        let used = g.aged(365.0);
        rs.push(vec![
            V::Int(g.account()),
            t(format!("86{}", g.digits(13))),
            t(format!("tok_{}", g.digits(24))),
            V::Time(used - Duration::days(200)),
            V::Time(used),
            g.flag(0.08),
        ]);
    }
    insert(
        tx,
        "push_registrations",
        &[
            "account_id",
            "imei",
            "push_token",
            "created_at",
            "last_used_at",
            "opted_out_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..300 {
        let at = g.aged(365.0);
        let account = g.account();
        let opened = g.rng.gen_bool(0.3).then(|| at + Duration::hours(5));
        rs.push(vec![
            V::Int(account),
            t(g.pick(&["spring-sale", "new-phone", "newsletter"])),
            t(g.pick(&["email", "sms", "push", "notice"])),
            t(format!("user{account}@example.test")),
            V::Time(at),
            opt_time(opened),
        ]);
    }
    insert(
        tx,
        "marketing_sends",
        &[
            "account_id",
            "campaign",
            "kind",
            "email",
            "sent_at",
            "opened_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for account in 1..=ACCOUNTS {
        let days = g.rng.gen_range(200.0..3000.0);
        let given = g.ago(days);
        let withdrawn = g.aged_or_null(1095.0, 0.5);
        rs.push(vec![
            V::Int(account),
            t(g.pick(&["email", "sms"])),
            t(format!("user{account}@example.test")),
            t(g.phone()),
            V::Time(given),
            opt_time(withdrawn),
        ]);
    }
    insert(
        tx,
        "marketing_consents",
        &[
            "account_id",
            "channel",
            "email",
            "phone",
            "consented_at",
            "withdrawn_at",
        ],
        rs,
    )
    .await?;

    let mut rs = Vec::new();
    for _ in 0..300 {
        let at = g.aged(182.0);
        rs.push(vec![
            V::Int(g.account()),
            V::Int(g.rng.gen_range(1..40)),
            t("Has anyone tried the new camera update?"),
            t(g.ip()),
            t("Mozilla/5.0 (Linux; Android 11)"),
            V::Time(at),
        ]);
    }
    insert(
        tx,
        "forum_posts",
        &[
            "author_account_id",
            "thread_id",
            "body",
            "ip_address",
            "user_agent",
            "posted_at",
        ],
        rs,
    )
    .await?;
    Ok(())
}

/// A JPEG that is only a start and end marker: enough for tools that sniff the type.
const TINY_JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xD9];

/// A small real photo (64×48) whose EXIF carries a GPS position, so the demo's
/// `strip_gps` has something to remove.
const PHOTO_WITH_GPS: &[u8] = include_bytes!("photo-with-gps.jpg");

/// Files under the object prefixes the rules name, with modification times spread
/// around each rule's cutoff.
fn objects(media: &Path, as_of: DateTime<Utc>, rng: &mut StdRng) -> Result<()> {
    if media.exists() {
        std::fs::remove_dir_all(media)
            .with_context(|| format!("cannot replace {}", media.display()))?;
    }
    let mut g = Gen { rng, as_of };
    for account in 1..=20 {
        for n in 0..3 {
            let age = g.aged(90.0);
            write_object(
                media,
                &format!("photos/{account}/IMG_{n:04}.jpg"),
                PHOTO_WITH_GPS,
                age,
            )?;
            let age = g.aged(365.0);
            write_object(
                media,
                &format!("chat-attachments/{account}/{n}.jpg"),
                TINY_JPEG,
                age,
            )?;
        }
        let age = g.aged(180.0);
        write_object(
            media,
            &format!("cloud-backups/{account}/backup-1.tar"),
            b"demo backup archive",
            age,
        )?;
    }
    for n in 0..30 {
        let age = g.aged(90.0);
        write_object(
            media,
            &format!("crash-dumps/{n:04}.dmp"),
            b"demo crash dump",
            age,
        )?;
    }
    Ok(())
}

fn write_object(media: &Path, key: &str, bytes: &[u8], modified: DateTime<Utc>) -> Result<()> {
    let path = media.join(key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.set_modified(modified.into())
        .with_context(|| format!("cannot set the age of {}", path.display()))?;
    Ok(())
}

/// Every table the shipped rules name, with the relations a real app would have.
const SCHEMA: &str = "
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    email TEXT, phone TEXT, display_name TEXT, birthday DATE, gender TEXT,
    security_question TEXT, password_hash TEXT,
    created_at TIMESTAMP NOT NULL, closed_at TIMESTAMP,
    erase_requested_at TIMESTAMP, anonymised_at TIMESTAMP
);
CREATE TABLE device_registrations (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    imei TEXT, imsi TEXT, mac_address TEXT, android_id TEXT, model TEXT, miui_version TEXT,
    network_operator TEXT, registered_at TIMESTAMP NOT NULL, last_seen_at TIMESTAMP NOT NULL,
    erase_requested_at TIMESTAMP
);
CREATE TABLE sim_activation_failures (
    id INTEGER PRIMARY KEY,
    device_registration_id INTEGER NOT NULL REFERENCES device_registrations(id),
    imsi TEXT, mcc TEXT, mnc TEXT, location_area_code INTEGER, cell_id INTEGER,
    failed_at TIMESTAMP NOT NULL
);
CREATE TABLE device_locations (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    recorded_at TIMESTAMP NOT NULL, latitude REAL, longitude REAL, cell_id INTEGER,
    location_area_code INTEGER, mcc TEXT, mnc TEXT, country_code TEXT, city_code TEXT,
    source TEXT NOT NULL, anonymised_at TIMESTAMP
);
CREATE INDEX device_locations_recorded_at ON device_locations (recorded_at);
CREATE TABLE find_device_locations (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    device_id TEXT NOT NULL, latitude REAL, longitude REAL, accuracy_m INTEGER,
    located_at TIMESTAMP NOT NULL
);
CREATE TABLE web_access_logs (
    id INTEGER PRIMARY KEY,
    account_id INTEGER, ip_address TEXT, user_agent TEXT, method TEXT, path TEXT,
    status INTEGER, referrer TEXT, logged_at TIMESTAMP NOT NULL
);
CREATE INDEX web_access_logs_logged_at ON web_access_logs (logged_at);
CREATE TABLE system_logs (
    id INTEGER PRIMARY KEY,
    account_id INTEGER, level TEXT, component TEXT, message TEXT,
    logged_ms INTEGER NOT NULL
);
CREATE TABLE web_cookies (
    id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts(id),
    cookie_id TEXT NOT NULL, ip_address TEXT, consent TEXT,
    created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    order_number TEXT NOT NULL UNIQUE, placed_at TIMESTAMP NOT NULL,
    total_cents INTEGER NOT NULL, currency TEXT NOT NULL,
    customer_name TEXT, email TEXT, phone TEXT, billing_address TEXT, ip_address TEXT,
    anonymised_at TIMESTAMP
);
CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    sku TEXT NOT NULL, description TEXT, quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL, gift_message TEXT,
    created_at TIMESTAMP NOT NULL, anonymised_at TIMESTAMP
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    carrier TEXT, tracking_number TEXT, recipient_name TEXT, address TEXT,
    postal_code TEXT, phone TEXT, shipped_at TIMESTAMP, delivered_at TIMESTAMP
);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    order_number TEXT NOT NULL, invoice_number TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL, billing_name TEXT, billing_address TEXT,
    net_cents INTEGER NOT NULL, vat_cents INTEGER NOT NULL
);
CREATE TABLE cloud_contacts (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    display_name TEXT, phone TEXT, email TEXT,
    synced_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP
);
CREATE TABLE cloud_call_logs (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    number TEXT, direction TEXT, duration_s INTEGER,
    synced_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP
);
CREATE TABLE cloud_sms (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    counterpart TEXT, body TEXT, sent_at TIMESTAMP,
    synced_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP
);
CREATE TABLE chat_messages (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    sender_account_id INTEGER NOT NULL REFERENCES accounts(id),
    recipient_phone TEXT, body TEXT, sent_at TIMESTAMP NOT NULL,
    erase_requested_at TIMESTAMP
);
CREATE TABLE message_routes (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL, sender_account_id INTEGER,
    sender_phone TEXT, recipient_phone TEXT, routed_at INTEGER NOT NULL
);
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES accounts(id),
    email TEXT, device_model TEXT, body TEXT,
    submitted_at TIMESTAMP NOT NULL, resolved_at TIMESTAMP
);
CREATE TABLE feedback_replies (
    id INTEGER PRIMARY KEY,
    feedback_id INTEGER NOT NULL REFERENCES feedback(id),
    agent TEXT, body TEXT, sent_at TIMESTAMP NOT NULL
);
CREATE TABLE crash_reports (
    id INTEGER PRIMARY KEY,
    account_id INTEGER, device_model TEXT, app_version TEXT, stack_trace TEXT,
    ip_address TEXT, reported_at TIMESTAMP NOT NULL
);
CREATE TABLE ux_events (
    id INTEGER PRIMARY KEY,
    account_id INTEGER, event_name TEXT NOT NULL, page TEXT, session_id TEXT,
    occurred_ms INTEGER NOT NULL
);
CREATE TABLE push_registrations (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    imei TEXT, push_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL, last_used_at TIMESTAMP NOT NULL, opted_out_at TIMESTAMP
);
CREATE TABLE marketing_sends (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    campaign TEXT, kind TEXT NOT NULL, email TEXT,
    sent_at TIMESTAMP NOT NULL, opened_at TIMESTAMP
);
CREATE TABLE marketing_consents (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    channel TEXT NOT NULL, email TEXT, phone TEXT,
    consented_at TIMESTAMP NOT NULL, withdrawn_at TIMESTAMP, anonymised_at TIMESTAMP
);
CREATE TABLE forum_posts (
    id INTEGER PRIMARY KEY,
    author_account_id INTEGER NOT NULL REFERENCES accounts(id),
    thread_id INTEGER NOT NULL, body TEXT, ip_address TEXT, user_agent TEXT,
    posted_at TIMESTAMP NOT NULL, ip_truncated_at TIMESTAMP
)
";
