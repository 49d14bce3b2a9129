//! Malformed `retention.yaml` files: each is refused by `retention check` with exit 2 and
//! a message naming the file, the line and the field.

use crate::support::{check_invalid, with_line, without_lines, Invalid, BASE_CONFIG, GOOD_RULE};

/// The base configuration with line `n` replaced (or, past the end, appended).
fn edit(n: usize, new: &str, line: usize, field: &'static str) -> Invalid {
    let text = if n > BASE_CONFIG.lines().count() {
        format!("{BASE_CONFIG}{new}\n")
    } else {
        with_line(BASE_CONFIG, n, new)
    };
    config(text, line, field)
}

fn config(text: String, line: usize, field: &'static str) -> Invalid {
    Invalid {
        config: text,
        rules: vec![("location.yaml", GOOD_RULE.to_owned())],
        file: "retention.yaml",
        line,
        field,
    }
}

macro_rules! cases {
    ($($name:ident: $case:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check_invalid(&$case);
            }
        )*
    };
}

cases! {
    an_unknown_top_level_field_is_refused: edit(8, "rule: ./rules", 8, "rule");
    an_unset_environment_variable_is_refused: edit(2, "  app: {url: \"${RETENTION_TEST_UNSET_DB}\"}", 2, "stores.app.url");
    an_unset_secret_variable_is_refused: edit(6, "  pseudonym_key: ${RETENTION_TEST_UNSET_KEY}", 6, "audit.pseudonym_key");
    a_malformed_variable_reference_is_refused: edit(2, "  app: {url: \"${DB\"}", 2, "stores.app.url");
    a_pseudonym_key_shorter_than_32_bytes_is_refused: edit(6, "  pseudonym_key: too-short", 6, "audit.pseudonym_key");
    a_state_store_that_does_not_exist_is_refused: edit(4, "state: warehouse", 4, "state");
    a_state_store_that_is_not_sql_is_refused: edit(4, "state: media", 4, "state");
    a_database_url_with_an_unknown_scheme_is_refused: edit(2, "  app: {url: \"redis://cache:6379\"}", 2, "stores.app.url");
    an_empty_database_url_is_refused: edit(2, "  app: {url: \"${RETENTION_TEST_UNSET_DB:-}\"}", 2, "stores.app.url");
    a_store_of_two_kinds_is_refused: edit(3, "  media: {dir: ./media, url: \"sqlite://x.db\"}", 3, "stores.media");
    an_s3_store_without_a_bucket_is_refused: edit(3, "  media: {s3: {region: us-east-1}}", 3, "stores.media.s3.bucket");
    an_unknown_s3_field_is_refused: edit(3, "  media: {s3: {bucket: b, regoin: us-east-1}}", 3, "stores.media.s3.regoin");
    path_style_must_be_a_boolean: edit(3, "  media: {s3: {bucket: b, path_style: yes please}}", 3, "stores.media.s3.path_style");
    a_store_name_with_spaces_is_refused: edit(3, "  \"my media\": {dir: ./media}", 3, "stores.my media");
    a_batch_time_without_a_unit_is_refused: edit(8, "defaults: {batch_time: 250}", 8, "defaults.batch_time");
    a_max_fraction_above_one_is_refused: edit(8, "defaults: {max_fraction: 1.5}", 8, "defaults.max_fraction");
    a_max_fraction_of_zero_is_refused: edit(8, "defaults: {max_fraction: 0}", 8, "defaults.max_fraction");
    zero_batches_in_flight_are_refused: edit(8, "defaults: {batches_in_flight: 0}", 8, "defaults.batches_in_flight");
    a_batch_size_of_zero_is_refused: edit(8, "defaults: {batch_size: 0}", 8, "defaults.batch_size");
    an_unknown_default_is_refused: edit(8, "defaults: {batch_rows: 10}", 8, "defaults.batch_rows");
    a_request_deadline_that_is_not_a_period_is_refused: edit(8, "requests: {deadline: one month}", 8, "requests.deadline");
    a_request_deadline_of_forever_is_refused: edit(8, "requests: {deadline: forever}", 8, "requests.deadline");
    an_unknown_request_setting_is_refused: edit(8, "requests: {dedline: 30d}", 8, "requests.dedline");
    an_unknown_audit_field_is_refused: edit(7, "  pseudonym: x", 7, "audit.pseudonym");
    a_signing_key_that_is_not_a_signed_note_key_is_refused: edit(7, "  signing_key: abc", 7, "audit.signing_key");
    an_audit_export_to_a_missing_store_is_refused: edit(7, "  export: {store: nowhere}", 7, "audit.export.store");
    an_audit_export_to_a_sql_store_is_refused: edit(7, "  export: {store: app}", 7, "audit.export.store");
    object_lock_days_must_be_positive: edit(7, "  export: {store: media, object_lock_days: -1}", 7, "audit.export.object_lock_days");
    a_subject_lookup_table_carrying_sql_is_refused: edit(8, "subjects: {lookup: {store: app, table: \"accounts; DROP TABLE x\", key: id, by: [email]}}", 8, "subjects.lookup.table");
    a_subject_lookup_in_an_object_store_is_refused: edit(8, "subjects: {lookup: {store: media, table: accounts, key: id, by: [email]}}", 8, "subjects.lookup.store");
    a_missing_state_is_refused: config(without_lines(BASE_CONFIG, 4, 4), 1, "state");
    a_missing_audit_section_is_refused: config(without_lines(BASE_CONFIG, 5, 6), 1, "audit");
    a_missing_rules_directory_is_refused: edit(7, "rules: ./no-such-rules", 7, "rules");
    stores_must_be_a_mapping: config(with_line(&without_lines(BASE_CONFIG, 2, 3), 1, "stores: [app, media]"), 1, "stores");
    an_unclosed_flow_mapping_is_a_syntax_error: edit(3, "  media: {dir: ./media", 4, "");
}

#[test]
fn the_base_configuration_is_valid() {
    let sandbox = crate::support::Sandbox::new();
    let config = sandbox.write("retention.yaml", BASE_CONFIG);
    sandbox.write("rules/location.yaml", GOOD_RULE);
    let out = sandbox.retention(&["--config", &config.to_string_lossy(), "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_missing_configuration_file_is_refused_naming_it() {
    let sandbox = crate::support::Sandbox::new();
    let out = sandbox.retention(&["--config", "nowhere.yaml", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("nowhere.yaml"), "{}", out.stderr);
}

#[test]
fn relative_paths_are_resolved_against_the_config_directory_not_the_working_directory() {
    let sandbox = crate::support::Sandbox::new();
    sandbox.write("conf/retention.yaml", BASE_CONFIG);
    sandbox.write("conf/rules/location.yaml", GOOD_RULE);
    // Run from the sandbox root, where no `rules/` directory exists.
    let out = sandbox.retention(&["--config", "conf/retention.yaml", "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_store_whose_url_is_an_unset_variable_is_not_also_reported_missing_where_it_is_named() {
    // `state: app` and `subjects.lookup.store: app` name the store whose URL could not be
    // read: one error, about the variable — not "there is no store `app`" after it.
    let sandbox = crate::support::Sandbox::new();
    let text = with_line(
        BASE_CONFIG,
        2,
        "  app: {url: \"${RETENTION_TEST_UNSET_URL}\"}",
    ) + "subjects:\n  lookup: {store: app, table: accounts, key: id, by: [email]}\n";
    let config = sandbox.write("retention.yaml", &text);
    sandbox.write("rules/location.yaml", GOOD_RULE);
    let out = sandbox.retention(&["--config", &config.to_string_lossy(), "check"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("RETENTION_TEST_UNSET_URL is not set"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unset_variable_is_reported_once_and_not_also_as_a_bad_value() {
    let sandbox = crate::support::Sandbox::new();
    let text = with_line(
        BASE_CONFIG,
        6,
        "  pseudonym_key: ${RETENTION_TEST_UNSET_KEY}",
    );
    let config = sandbox.write("retention.yaml", &text);
    sandbox.write("rules/location.yaml", GOOD_RULE);
    let out = sandbox.retention(&["--config", &config.to_string_lossy(), "check"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("RETENTION_TEST_UNSET_KEY is not set"),
        "{}",
        out.stderr
    );
}
