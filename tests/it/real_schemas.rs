//! Real schemas nobody here designed (issue 12, layer 2): Pagila on PostgreSQL, Sakila on
//! MariaDB, Chinook on SQLite, loaded from `tests/fixtures/` with their own data. Rules are
//! written as a user would from the README, the real binary runs (`check --connect`,
//! `plan`, `run`, `erase`, `hold`), and the effect is checked with SQL of the test's own:
//! the rows expected to change are computed from the data before the run (the oracle) and
//! compared as key sets afterwards, and every table no rule names keeps its checksum.
//!
//! The tool takes its clock from the system, and the samples' dates lie years back, so a
//! rule's `retain:` is computed in whole hours to put the run's cutoff just after a split
//! instant chosen in a gap of the data (`fixtures::split_in_gap`): the oracle compares with
//! the split, and no row lies between it and any cutoff the run can take.

use crate::support::case::Case;
use crate::support::cli::write_files;
use crate::support::db::Db;
use crate::support::fixtures::{self, Sample};

/// A fresh database of the sample's dialect with the sample loaded, and a config whose
/// rules the test writes afterwards (`rules/*.yaml`).
async fn sample_case(sample: Sample) -> Case {
    let case = Case::new(sample.db(), &[]).await;
    fixtures::load(&case.db, sample).await;
    case
}

fn write_rule(case: &Case, name: &str, text: &str) {
    write_files(case.dir.path(), &[(&format!("rules/{name}"), text)]);
}

/// The first column of a query as strings (NULL left out), in the query's order.
async fn keys(case: &Case, sql: &str) -> Vec<String> {
    case.column(sql).await.into_iter().flatten().collect()
}

/// Ends a case: its database is dropped with it ([`TestDb`]'s `Drop`), its directory too.
async fn done(case: Case) {
    drop(case);
}

/// `plan --format json`: the `matched` and `held` of the (category, target, reason) entry.
fn planned(case: &Case, category: &str, target: &str, reason: &str) -> (u64, u64) {
    let out = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    let t = plan["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["category"] == category && t["target"] == target && t["reason"] == reason)
        .unwrap_or_else(|| panic!("no {category}/{target}/{reason} in {}", out.stdout));
    (
        t["matched"].as_u64().unwrap_or(0),
        t["held"].as_u64().unwrap_or(0),
    )
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: Pagila

const PAGILA_EPOCH: &str =
    "SELECT CAST(EXTRACT(EPOCH FROM payment_date) AS BIGINT)::text FROM payment ORDER BY 1";

fn pagila_payments(retain: &str) -> String {
    format!(
        "category: payments
description: Payments for rentals
source: \"Privacy Policy, 'Orders and payments'\"
retain: {retain}
on_expiry: delete
targets:
  - store: app
    table: payment
    key: [payment_date, payment_id]
    timestamp: payment_date
    subject: customer_id
"
    )
}

/// `check --connect` accepts Pagila's partitioned `payment` (FKs on its partitions) and
/// plain tables, and refuses its view and materialized view as targets, naming file,
/// line and field; a key that is not unique is refused too.
#[tokio::test]
async fn pagila_check_connect_accepts_tables_and_refuses_views() {
    let case = sample_case(Sample::Pagila).await;
    write_rule(&case, "payments.yaml", &pagila_payments("365d"));
    write_rule(
        &case,
        "rentals.yaml",
        "category: rentals
description: Rental history
source: \"Privacy Policy, 'Orders and payments'\"
retain: 2y
on_expiry: delete
targets:
  - store: app
    table: rental
    key: [rental_id]
    timestamp: rental_date
    subject: customer_id
",
    );
    case.expect(&["check", "--connect"], 0);
    let view = |n: usize, table: &str, key: &str| {
        format!(
            "category: v{n}
description: Customer directory
source: \"Privacy Policy, 'Account information'\"
retain: forever
on_erasure: delete
targets:
  - store: app
    table: {table}
    key: [{key}]
    subject: {key}
"
        )
    };
    write_rule(&case, "v0.yaml", &view(0, "customer_list", "id"));
    write_rule(&case, "v1.yaml", &view(1, "rental_by_category", "category"));
    write_rule(&case, "v2.yaml", &view(2, "customer", "store_id"));
    let out = case.expect(&["check", "--connect"], 2);
    let at = |n: usize, line: usize, field: &str| {
        let file = case.dir.path().join(format!("rules/v{n}.yaml"));
        format!("{}:{line}: targets[0].{field}: ", file.display())
    };
    assert!(
        out.stderr
            .contains(&(at(0, 8, "table") + "`customer_list` is a view")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&at(1, 8, "table")), "{}", out.stderr);
    assert!(out.stderr.contains(&at(2, 9, "key")), "{}", out.stderr);
    // The tables pass; at most a warning names them (Pagila's July partition has no
    // index on `customer_id`, and `rental`'s only index with it leads with `rental_date`).
    for ok in ["payments.yaml", "rentals.yaml"] {
        for line in out.stderr.lines().filter(|l| l.contains(ok)) {
            assert!(line.starts_with("warning: "), "{ok}: {}", out.stderr);
        }
    }
    done(case).await;
}

/// Expiry on Pagila's RANGE-partitioned `payment` while customer 5 is on hold: exactly the
/// expired payments of everyone else go, in every partition; the plan said so first; no
/// other table changes and the audit log verifies.
#[tokio::test]
async fn pagila_partitioned_payments_expire_exactly_with_a_hold() {
    let case = sample_case(Sample::Pagila).await;
    let split = fixtures::split_in_gap(&case.db, PAGILA_EPOCH, 0.5).await;
    write_rule(
        &case,
        "payments.yaml",
        &pagila_payments(&fixtures::retain_hours_until(split)),
    );
    case.expect(&["migrate"], 0);
    case.expect(
        &[
            "hold",
            "add",
            "--subject",
            "5",
            "--reason",
            "chargeback dispute",
        ],
        0,
    );
    let at = fixtures::literal(Db::Postgres, split);
    let all = keys(
        &case,
        "SELECT payment_id::text FROM payment ORDER BY payment_id",
    )
    .await;
    let expired = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM payment WHERE payment_date < {at}"
        ))
        .await;
    let held = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM payment WHERE payment_date < {at} AND customer_id = 5"
        ))
        .await;
    let keep = keys(
        &case,
        &format!(
            "SELECT payment_id::text FROM payment
             WHERE NOT (payment_date < {at} AND customer_id <> 5) ORDER BY payment_id"
        ),
    )
    .await;
    assert!(
        expired > 50 && keep.len() > 50 && held > 0,
        "a split inside the data"
    );
    let partitions_hit = case
        .db
        .count(&format!(
            "SELECT COUNT(DISTINCT tableoid) FROM payment WHERE payment_date < {at}"
        ))
        .await;
    assert!(partitions_hit >= 2, "the expired rows span partitions");
    assert_eq!(
        planned(&case, "payments", "payment", "expired"),
        ((expired - held) as u64, held as u64)
    );
    let others = fixtures::tables_except(&case.db, &["payment"]).await;
    let before = fixtures::checksum(&case.db, &others).await;

    case.expect(&["run"], 0);

    let left = keys(
        &case,
        "SELECT payment_id::text FROM payment ORDER BY payment_id",
    )
    .await;
    assert_eq!(left, keep, "of {} payments", all.len());
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    case.expect(&["audit", "verify"], 0);
    // A second run finds nothing more to do.
    case.expect(&["run"], 0);
    assert_eq!(
        keys(
            &case,
            "SELECT payment_id::text FROM payment ORDER BY payment_id"
        )
        .await,
        keep
    );
    done(case).await;
}

/// Rentals and the payments that reference them (FKs declared on `payment`'s partitions)
/// expire in one run: payments go first, so every expired rental without a fresh payment
/// goes in the same run, and the rentals a fresh payment still references stay.
#[tokio::test]
async fn pagila_rentals_go_after_their_payments_in_one_run() {
    let case = sample_case(Sample::Pagila).await;
    let split = fixtures::split_in_gap(
        &case.db,
        "SELECT e FROM (SELECT CAST(EXTRACT(EPOCH FROM payment_date) AS BIGINT)::text e FROM payment
         UNION ALL SELECT CAST(EXTRACT(EPOCH FROM rental_date) AS BIGINT)::text FROM rental) t
         ORDER BY e::bigint",
        0.5,
    )
    .await;
    let retain = fixtures::retain_hours_until(split);
    write_rule(&case, "payments.yaml", &pagila_payments(&retain));
    write_rule(
        &case,
        "rentals.yaml",
        &format!(
            "category: rentals
description: Rental history
source: \"Privacy Policy, 'Orders and payments'\"
retain: {retain}
on_expiry: delete
targets:
  - store: app
    table: rental
    key: [rental_id]
    timestamp: rental_date
    subject: customer_id
"
        ),
    );
    case.expect(&["migrate"], 0);
    let at = fixtures::literal(Db::Postgres, split);
    let payments_left = keys(
        &case,
        &format!("SELECT payment_id::text FROM payment WHERE payment_date >= {at} ORDER BY 1"),
    )
    .await;
    let rentals_left = keys(
        &case,
        &format!(
            "SELECT rental_id::text FROM rental r WHERE r.rental_date >= {at}
               OR EXISTS (SELECT 1 FROM payment p WHERE p.rental_id = r.rental_id
                          AND p.payment_date >= {at})
             ORDER BY rental_id"
        ),
    )
    .await;
    let blocked = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM rental r WHERE r.rental_date < {at}
               AND EXISTS (SELECT 1 FROM payment p WHERE p.rental_id = r.rental_id
                           AND p.payment_date >= {at})"
        ))
        .await;
    let rentals_expired = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM rental WHERE rental_date < {at}"
        ))
        .await;
    assert!(
        blocked > 0 && rentals_expired > blocked,
        "some expired rentals are still referenced by fresh payments, others are not"
    );
    let others = fixtures::tables_except(&case.db, &["payment", "rental"]).await;
    let before = fixtures::checksum(&case.db, &others).await;

    case.expect(&["run"], 0);

    assert_eq!(
        keys(&case, "SELECT payment_id::text FROM payment ORDER BY 1").await,
        payments_left
    );
    assert_eq!(
        keys(
            &case,
            "SELECT rental_id::text FROM rental ORDER BY rental_id"
        )
        .await,
        rentals_left
    );
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    done(case).await;
}

const PAGILA_CUSTOMERS: &str = "category: customers
description: Customer accounts
source: \"Privacy Policy, 'Account information'\"
retain: RETAIN
on_expiry: anonymise
on_erasure: anonymise
targets:
  - store: app
    table: customer
    key: [customer_id]
    timestamp: create_date
    subject: customer_id
    anonymise:
      email: null
      first_name: {replace: ERASED}
      last_name: {replace: ERASED}
";

/// Pagila's `customer.create_date` is a `date` (2022-02-14 for every customer): with the
/// cutoff later on that same day nothing expires (the whole day does not lie before it),
/// with the cutoff early the next day every customer is anonymised, the `last_updated`
/// trigger firing as it does for the application.
#[tokio::test]
async fn pagila_a_date_expires_by_whole_days() {
    let case = sample_case(Sample::Pagila).await;
    let day = chrono::NaiveDate::from_ymd_opt(2022, 2, 14).unwrap();
    assert_eq!(
        case.db
            .count("SELECT COUNT(*) FROM customer WHERE create_date <> DATE '2022-02-14'")
            .await,
        0,
        "the fixture's customers were all created on 2022-02-14"
    );
    write_rule(
        &case,
        "customers.yaml",
        &PAGILA_CUSTOMERS.replace("RETAIN", &fixtures::retain_hours_into_day(day, 12 * 60)),
    );
    case.expect(&["migrate"], 0);
    let all = fixtures::tables_except(&case.db, &[]).await;
    let before = fixtures::checksum(&case.db, &all).await;
    case.expect(&["run"], 0);
    assert_eq!(
        fixtures::checksum(&case.db, &all).await,
        before,
        "a date is not expired during its own day"
    );

    let next = day.succ_opt().unwrap();
    write_rule(
        &case,
        "customers.yaml",
        &PAGILA_CUSTOMERS.replace("RETAIN", &fixtures::retain_hours_into_day(next, 30)),
    );
    let ids = keys(&case, "SELECT customer_id::text FROM customer ORDER BY 1").await;
    let others = fixtures::tables_except(&case.db, &["customer"]).await;
    let before = fixtures::checksum(&case.db, &others).await;
    let kept_columns =
        "SELECT concat_ws('|', customer_id, store_id, address_id, activebool, create_date, active)
                        FROM customer ORDER BY customer_id";
    let kept_before = keys(&case, kept_columns).await;
    case.expect(&["run"], 0);
    assert_eq!(
        keys(
            &case,
            "SELECT customer_id::text FROM customer
             WHERE email IS NULL AND first_name = 'ERASED' AND last_name = 'ERASED' ORDER BY 1"
        )
        .await,
        ids
    );
    assert_eq!(keys(&case, kept_columns).await, kept_before);
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    done(case).await;
}

/// `erase --subject 7 --ticket T` on Pagila: customer 7's payments (in whichever
/// partition) and rentals are deleted, children first, and the customer row anonymised;
/// every other row of every table is as it was. `erase --dry-run` before it changes
/// nothing at all.
#[tokio::test]
async fn pagila_erase_removes_exactly_one_subject() {
    let case = sample_case(Sample::Pagila).await;
    write_rule(
        &case,
        "payments.yaml",
        "category: payments
description: Payments for rentals
source: \"Privacy Policy, 'Orders and payments'\"
retain: forever
targets:
  - store: app
    table: payment
    key: [payment_date, payment_id]
    subject: customer_id
",
    );
    write_rule(
        &case,
        "rentals.yaml",
        "category: rentals
description: Rental history
source: \"Privacy Policy, 'Orders and payments'\"
retain: forever
targets:
  - store: app
    table: rental
    key: [rental_id]
    subject: customer_id
",
    );
    write_rule(
        &case,
        "customers.yaml",
        &PAGILA_CUSTOMERS.replace("RETAIN", "10y"),
    );
    case.expect(&["migrate"], 0);
    let whole = case.db.checksum().await;
    case.expect(
        &["erase", "--subject", "7", "--ticket", "DSAR-7", "--dry-run"],
        0,
    );
    assert_eq!(case.db.checksum().await, whole, "a dry run writes nothing");

    let payments = keys(
        &case,
        "SELECT payment_id::text FROM payment WHERE customer_id <> 7 ORDER BY 1",
    )
    .await;
    let rentals = keys(
        &case,
        "SELECT rental_id::text FROM rental WHERE customer_id <> 7 ORDER BY 1",
    )
    .await;
    let others_of = "SELECT c::text FROM customer c WHERE customer_id <> 7 ORDER BY customer_id";
    let other_customers = keys(&case, others_of).await;
    assert!(
        case.db
            .count("SELECT COUNT(*) FROM payment WHERE customer_id = 7")
            .await
            > 0
    );
    let untouched = fixtures::tables_except(&case.db, &["payment", "rental", "customer"]).await;
    let before = fixtures::checksum(&case.db, &untouched).await;

    case.expect(&["erase", "--subject", "7", "--ticket", "DSAR-7"], 0);

    assert_eq!(
        keys(&case, "SELECT payment_id::text FROM payment ORDER BY 1").await,
        payments
    );
    assert_eq!(
        keys(&case, "SELECT rental_id::text FROM rental ORDER BY 1").await,
        rentals
    );
    assert_eq!(keys(&case, others_of).await, other_customers);
    assert_eq!(
        keys(
            &case,
            "SELECT concat_ws('|', email IS NULL, first_name, last_name) FROM customer WHERE customer_id = 7"
        )
        .await,
        vec!["t|ERASED|ERASED".to_owned()]
    );
    assert_eq!(fixtures::checksum(&case.db, &untouched).await, before);
    case.expect(&["audit", "verify"], 0);
    done(case).await;
}

// ---------------------------------------------------------------------------------------
// MariaDB: Sakila with a RANGE COLUMNS-partitioned ledger

const LEDGER_EPOCH: &str = "SELECT CAST(TIMESTAMPDIFF(SECOND, '1970-01-01', payment_date) AS CHAR)
                            FROM payment_ledger ORDER BY payment_date";

fn sakila_ledger(retain: &str) -> String {
    format!(
        "category: ledger
description: Payment ledger kept for the accountants
source: \"Privacy Policy, 'Orders and payments'\"
retain: {retain}
on_expiry: delete
on_erasure: anonymise
targets:
  - store: app
    table: payment_ledger
    key: [receipt_no, payment_date]
    timestamp: payment_date
    subject: customer_id
    anonymise: {{customer_id: null, card_last4: null}}
"
    )
}

/// `check --connect` on Sakila: the partitioned ledger (text key in a composite key), the
/// composite key of `film_actor`, and plain tables pass; a view and a key that is not
/// unique are refused with file, line and field.
#[tokio::test]
async fn sakila_check_connect_accepts_tables_and_refuses_views() {
    let case = sample_case(Sample::Sakila).await;
    write_rule(&case, "ledger.yaml", &sakila_ledger("5y"));
    write_rule(
        &case,
        "credits.yaml",
        "category: credits
description: Actor credits
source: \"Privacy Policy, 'Account information'\"
retain: forever
targets:
  - store: app
    table: film_actor
    key: [actor_id, film_id]
    subject: actor_id
",
    );
    case.expect(&["check", "--connect"], 0);
    write_rule(
        &case,
        "v0.yaml",
        "category: v0
description: Customer directory
source: \"Privacy Policy, 'Account information'\"
retain: forever
targets:
  - store: app
    table: customer_list
    key: [ID]
    subject: ID
",
    );
    write_rule(
        &case,
        "v1.yaml",
        "category: v1
description: Actor credits
source: \"Privacy Policy, 'Account information'\"
retain: forever
targets:
  - store: app
    table: film_actor
    key: [actor_id]
    subject: actor_id
",
    );
    let out = case.expect(&["check", "--connect"], 2);
    let at = |n: usize, line: usize, field: &str| {
        let file = case.dir.path().join(format!("rules/v{n}.yaml"));
        format!("{}:{line}: targets[0].{field}: ", file.display())
    };
    assert!(
        out.stderr
            .contains(&(at(0, 7, "table") + "`customer_list` is a view")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&at(1, 8, "key")), "{}", out.stderr);
    for ok in ["ledger.yaml", "credits.yaml"] {
        assert!(!out.stderr.contains(ok), "{ok}: {}", out.stderr);
    }
    done(case).await;
}

/// On the partitioned ledger: an erasure request anonymises customer 3's lines (their
/// subject becomes NULL), then with customer 5 on hold a run deletes exactly the expired
/// lines of everyone but 5 — the now subject-less lines of customer 3 included, since no
/// hold covers a NULL subject.
#[tokio::test]
async fn sakila_ledger_null_subjects_expire_while_a_hold_is_in_force() {
    let case = sample_case(Sample::Sakila).await;
    let split = fixtures::split_in_gap(&case.db, LEDGER_EPOCH, 0.5).await;
    write_rule(
        &case,
        "ledger.yaml",
        &sakila_ledger(&fixtures::retain_hours_until(split)),
    );
    case.expect(&["migrate"], 0);
    let line = "SELECT CONCAT_WS('|', receipt_no, payment_date, COALESCE(customer_id, '-'), amount, COALESCE(card_last4, '-'))
                FROM payment_ledger ORDER BY receipt_no";
    let expected_lines: Vec<String> = case
        .column(
            "SELECT CONCAT_WS('|', receipt_no, payment_date,
                     IF(customer_id = 3, '-', customer_id), amount,
                     IF(customer_id = 3, '-', COALESCE(card_last4, '-')))
             FROM payment_ledger ORDER BY receipt_no",
        )
        .await
        .into_iter()
        .flatten()
        .collect();
    case.expect(&["erase", "--subject", "3", "--ticket", "DSAR-3"], 0);
    assert_eq!(keys(&case, line).await, expected_lines);
    let nulls = case
        .db
        .count("SELECT COUNT(*) FROM payment_ledger WHERE customer_id IS NULL")
        .await;
    assert!(nulls > 0);

    case.expect(
        &["hold", "add", "--subject", "5", "--reason", "litigation"],
        0,
    );
    let at = fixtures::literal(Db::MySql, split);
    let keep = keys(
        &case,
        &format!(
            "SELECT receipt_no FROM payment_ledger
             WHERE NOT (payment_date < {at} AND (customer_id IS NULL OR customer_id <> 5))
             ORDER BY receipt_no"
        ),
    )
    .await;
    let expired_null = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM payment_ledger WHERE payment_date < {at} AND customer_id IS NULL"
        ))
        .await;
    let held = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM payment_ledger WHERE payment_date < {at} AND customer_id = 5"
        ))
        .await;
    assert!(
        expired_null > 0 && held > 0,
        "NULL subjects and held rows among the expired"
    );
    let others = fixtures::tables_except(&case.db, &["payment_ledger"]).await;
    let before = fixtures::checksum(&case.db, &others).await;

    case.expect(&["run"], 0);

    assert_eq!(
        keys(
            &case,
            "SELECT receipt_no FROM payment_ledger ORDER BY receipt_no"
        )
        .await,
        keep
    );
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    case.expect(&["audit", "verify"], 0);
    done(case).await;
}

/// Sakila's `payment.rental_id … ON DELETE SET NULL`: an expired rental that a payment
/// still names is not deleted (the database would rewrite the payment, a row no rule
/// selected, with no audit entry) — it is counted as locked, in the plan and the run;
/// the other expired rentals are deleted, and no payment or other table changes.
#[tokio::test]
async fn sakila_rentals_a_payment_names_stay_locked_despite_on_delete_set_null() {
    let case = sample_case(Sample::Sakila).await;
    let split = fixtures::split_in_gap(
        &case.db,
        "SELECT CAST(TIMESTAMPDIFF(SECOND, '1970-01-01', rental_date) AS CHAR) FROM rental ORDER BY rental_date",
        0.4,
    )
    .await;
    write_rule(
        &case,
        "rentals.yaml",
        &format!(
            "category: rentals
description: Rental history
source: \"Privacy Policy, 'Orders and payments'\"
retain: {}
on_expiry: delete
targets:
  - store: app
    table: rental
    key: [rental_id]
    timestamp: rental_date
    subject: customer_id
",
            fixtures::retain_hours_until(split)
        ),
    );
    case.expect(&["migrate"], 0);
    let at = fixtures::literal(Db::MySql, split);
    // Sakila names every rental in a payment; some payments lose theirs, so some expired
    // rentals are free to go.
    case.db
        .exec("UPDATE payment SET rental_id = NULL WHERE payment_id % 7 = 0")
        .await;
    let named = "EXISTS (SELECT 1 FROM payment p WHERE p.rental_id = r.rental_id)";
    let rentals_left = keys(
        &case,
        &format!(
            "SELECT CAST(rental_id AS CHAR) FROM rental r
             WHERE r.rental_date >= {at} OR {named} ORDER BY rental_id"
        ),
    )
    .await;
    let locked = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM rental r WHERE r.rental_date < {at} AND {named}"
        ))
        .await;
    let freed = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM rental r WHERE r.rental_date < {at} AND NOT {named}"
        ))
        .await;
    assert!(
        locked > 0 && freed > 0,
        "some expired rentals are named by payments, some not"
    );
    let others = fixtures::tables_except(&case.db, &["rental"]).await;
    let before = fixtures::checksum(&case.db, &others).await;

    let plan = case.expect(&["plan", "--format", "json"], 0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).expect("plan JSON");
    let pass = &plan["targets"][0];
    assert_eq!(pass["locked"].as_u64(), Some(locked as u64), "{pass}");
    assert_eq!(pass["matched"].as_u64(), Some(freed as u64), "{pass}");
    case.expect(&["run"], 0);

    assert_eq!(
        keys(
            &case,
            "SELECT CAST(rental_id AS CHAR) FROM rental ORDER BY rental_id"
        )
        .await,
        rentals_left
    );
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    case.expect(&["audit", "verify"], 0);
    done(case).await;
}

/// `erase --subject 4` across Sakila's rentals, payments and the partitioned ledger:
/// payments (children) and rentals of customer 4 are deleted, the ledger lines anonymised,
/// nothing of anyone else changes.
#[tokio::test]
async fn sakila_erase_across_targets() {
    let case = sample_case(Sample::Sakila).await;
    write_rule(&case, "ledger.yaml", &sakila_ledger("10y"));
    for (name, table, key) in [
        ("payments", "payment", "payment_id"),
        ("rentals", "rental", "rental_id"),
    ] {
        write_rule(
            &case,
            &format!("{name}.yaml"),
            &format!(
                "category: {name}
description: Rental history and payments
source: \"Privacy Policy, 'Orders and payments'\"
retain: forever
targets:
  - store: app
    table: {table}
    key: [{key}]
    subject: customer_id
"
            ),
        );
    }
    case.expect(&["migrate"], 0);
    let rentals = keys(
        &case,
        "SELECT CAST(rental_id AS CHAR) FROM rental WHERE customer_id <> 4 ORDER BY rental_id",
    )
    .await;
    let payments = keys(
        &case,
        "SELECT CAST(payment_id AS CHAR) FROM payment WHERE customer_id <> 4 ORDER BY payment_id",
    )
    .await;
    let ledger = "SELECT CONCAT_WS('|', receipt_no, payment_date, COALESCE(customer_id, '-'), amount, COALESCE(card_last4, '-'))
                  FROM payment_ledger ORDER BY receipt_no";
    let ledger_after: Vec<String> = keys(
        &case,
        "SELECT CONCAT_WS('|', receipt_no, payment_date, IF(customer_id = 4, '-', customer_id), amount,
                IF(customer_id = 4, '-', COALESCE(card_last4, '-')))
         FROM payment_ledger ORDER BY receipt_no",
    )
    .await;
    let untouched =
        fixtures::tables_except(&case.db, &["rental", "payment", "payment_ledger"]).await;
    let before = fixtures::checksum(&case.db, &untouched).await;

    case.expect(&["erase", "--subject", "4", "--ticket", "DSAR-4"], 0);

    assert_eq!(
        keys(
            &case,
            "SELECT CAST(rental_id AS CHAR) FROM rental ORDER BY rental_id"
        )
        .await,
        rentals
    );
    assert_eq!(
        keys(
            &case,
            "SELECT CAST(payment_id AS CHAR) FROM payment ORDER BY payment_id"
        )
        .await,
        payments
    );
    assert_eq!(keys(&case, ledger).await, ledger_after);
    assert_eq!(fixtures::checksum(&case.db, &untouched).await, before);
    done(case).await;
}

// ---------------------------------------------------------------------------------------
// SQLite: Chinook

const CHINOOK_INVOICES: &str = "category: invoices
description: Invoices and billing addresses
source: \"Privacy Policy, 'Orders and payments'\"
retain: RETAIN
on_expiry: anonymise
on_erasure: anonymise
targets:
  - store: app
    table: Invoice
    key: [InvoiceId]
    timestamp: InvoiceDate
    subject: {column: CustomerId, via: {table: Customer, key: CustomerId, subject: Email}}
    anonymise: {BillingAddress: null, BillingPostalCode: null}
";

/// Chinook invoices, subject by the customer's email (a text subject found through
/// `Customer`): with one customer on hold (by email), the expired invoices of everyone
/// else lose their billing address; held and fresh ones keep it; the plan said so.
#[tokio::test]
async fn chinook_invoices_anonymised_by_a_text_subject_with_a_hold() {
    let case = sample_case(Sample::Chinook).await;
    let split = fixtures::split_in_gap(
        &case.db,
        "SELECT CAST(strftime('%s', InvoiceDate) AS TEXT) FROM Invoice ORDER BY InvoiceDate",
        0.5,
    )
    .await;
    write_rule(
        &case,
        "invoices.yaml",
        &CHINOOK_INVOICES.replace("RETAIN", &fixtures::retain_hours_until(split)),
    );
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    let held_email = "luisg@embraer.com.br";
    case.expect(
        &[
            "hold",
            "add",
            "--subject",
            held_email,
            "--reason",
            "tax audit",
        ],
        0,
    );
    let at = fixtures::literal(Db::Sqlite, split);
    let row = "SELECT InvoiceId || '|' || CustomerId || '|' || InvoiceDate || '|' || quote(BillingAddress)
                 || '|' || quote(BillingCity) || '|' || quote(BillingState) || '|' || BillingCountry
                 || '|' || quote(BillingPostalCode) || '|' || Total FROM Invoice i ORDER BY InvoiceId";
    let expected = keys(
        &case,
        &format!(
            "SELECT InvoiceId || '|' || CustomerId || '|' || InvoiceDate || '|' ||
               CASE WHEN x THEN 'NULL' ELSE quote(BillingAddress) END
                 || '|' || quote(BillingCity) || '|' || quote(BillingState) || '|' || BillingCountry
                 || '|' || CASE WHEN x THEN 'NULL' ELSE quote(BillingPostalCode) END || '|' || Total
             FROM (SELECT i.*, (i.InvoiceDate < {at} AND c.Email <> '{held_email}') AS x
                   FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId)
             ORDER BY InvoiceId"
        ),
    )
    .await;
    let changed = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId
             WHERE i.InvoiceDate < {at} AND c.Email <> '{held_email}'"
        ))
        .await;
    let held = case
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM Invoice i JOIN Customer c ON c.CustomerId = i.CustomerId
             WHERE i.InvoiceDate < {at} AND c.Email = '{held_email}'"
        ))
        .await;
    assert!(changed > 50 && held > 0);
    assert_eq!(
        planned(&case, "invoices", "Invoice", "expired"),
        (changed as u64, held as u64)
    );
    let others = fixtures::tables_except(&case.db, &["Invoice"]).await;
    let before = fixtures::checksum(&case.db, &others).await;

    case.expect(&["run"], 0);

    assert_eq!(keys(&case, row).await, expected);
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    // Anonymised rows are recognised and never selected again.
    assert_eq!(planned(&case, "invoices", "Invoice", "expired").0, 0);
    done(case).await;
}

/// Playlists as a user's data: `erase --subject 1` deletes playlist 1's entries in
/// `PlaylistTrack` (composite key) before the `Playlist` row they reference, and nothing
/// else; a second subject's rows and every other table are untouched.
#[tokio::test]
async fn chinook_erase_deletes_composite_key_children_first() {
    let case = sample_case(Sample::Chinook).await;
    for (name, table, key) in [
        ("playlist-tracks", "PlaylistTrack", "[PlaylistId, TrackId]"),
        ("playlists", "Playlist", "[PlaylistId]"),
    ] {
        write_rule(
            &case,
            &format!("{name}.yaml"),
            &format!(
                "category: {name}
description: Playlists a listener made
source: \"Privacy Policy, 'Content you create'\"
retain: forever
targets:
  - store: app
    table: {table}
    key: {key}
    subject: PlaylistId
"
            ),
        );
    }
    case.expect(&["check", "--connect"], 0);
    case.expect(&["migrate"], 0);
    let entries =
        "SELECT PlaylistId || '|' || TrackId FROM PlaylistTrack ORDER BY PlaylistId, TrackId";
    let expected = keys(
        &case,
        "SELECT PlaylistId || '|' || TrackId FROM PlaylistTrack WHERE PlaylistId <> 1 ORDER BY PlaylistId, TrackId",
    )
    .await;
    assert!(
        case.db
            .count("SELECT COUNT(*) FROM PlaylistTrack WHERE PlaylistId = 1")
            .await
            > 100
    );
    let playlists = keys(
        &case,
        "SELECT PlaylistId || '|' || Name FROM Playlist WHERE PlaylistId <> 1 ORDER BY PlaylistId",
    )
    .await;
    let others = fixtures::tables_except(&case.db, &["PlaylistTrack", "Playlist"]).await;
    let before = fixtures::checksum(&case.db, &others).await;

    case.expect(&["erase", "--subject", "1", "--ticket", "DSAR-P1"], 0);

    assert_eq!(keys(&case, entries).await, expected);
    assert_eq!(
        keys(
            &case,
            "SELECT PlaylistId || '|' || Name FROM Playlist ORDER BY PlaylistId"
        )
        .await,
        playlists
    );
    assert_eq!(fixtures::checksum(&case.db, &others).await, before);
    case.expect(&["audit", "verify"], 0);
    done(case).await;
}
