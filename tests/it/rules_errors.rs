//! Malformed rule files: each is refused by `retention check` with exit 2 and a message
//! naming the file, the line and the field, before anything touches a store.

use crate::support::{check_invalid, with_line, without_lines, Invalid, BASE_CONFIG, GOOD_RULE};

/// The good rule with line `n` replaced, expected to fail at `line`, `field`.
fn edit(n: usize, new: &str, line: usize, field: &'static str) -> Invalid {
    rule(with_line(GOOD_RULE, n, new), line, field)
}

fn rule(text: String, line: usize, field: &'static str) -> Invalid {
    Invalid {
        config: BASE_CONFIG.to_owned(),
        rules: vec![("location.yaml", text)],
        file: "location.yaml",
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
    an_unknown_rule_field_is_refused: edit(7, "schedul: \"0 3 * * *\"", 7, "schedul");
    a_retention_period_with_a_word_unit_is_refused: edit(4, "retain: 90days", 4, "retain");
    a_retention_period_of_zero_is_refused: edit(4, "retain: 0d", 4, "retain");
    a_cron_expression_with_four_fields_is_refused: edit(7, "schedule: \"0 3 * *\"", 7, "schedule");
    a_cron_expression_with_an_impossible_hour_is_refused: edit(7, "schedule: \"0 25 * * *\"", 7, "schedule");
    a_table_name_carrying_sql_is_refused: edit(10, "    table: \"web_logs; DROP TABLE x\"", 10, "targets[0].table");
    a_column_name_with_a_double_quote_is_refused: edit(12, "    timestamp: 'recorded\"at'", 12, "targets[0].timestamp");
    a_column_name_with_a_backtick_is_refused: edit(13, "    subject: \"account`_id\"", 13, "targets[0].subject");
    a_column_name_with_a_cyrillic_look_alike_is_refused: edit(13, "    subject: \u{0430}ccount_id", 13, "targets[0].subject");
    a_key_column_carrying_sql_is_refused: edit(11, "    key: [id, \"id) OR 1=1 --\"]", 11, "targets[0].key[1]");
    a_filter_column_carrying_sql_is_refused: edit(13, "    filter: {column: \"source = 1; --\", eq: x}", 13, "targets[0].filter.column");
    an_anonymised_column_name_with_a_space_is_refused: edit(16, "      cell id: null", 16, "targets[0].anonymise.cell id");
    a_target_in_an_unknown_store_is_refused: edit(9, "  - store: warehouse", 9, "targets[0].store");
    a_table_target_in_an_object_store_is_refused: edit(9, "  - store: media", 9, "targets[0].store");
    an_object_target_in_a_sql_store_is_refused: edit(18, "  - store: app", 18, "targets[1].store");
    a_table_without_a_timestamp_is_refused_unless_kept_forever: rule(without_lines(GOOD_RULE, 12, 12), 9, "targets[0].timestamp");
    an_epoch_timestamp_in_nanoseconds_is_refused: edit(12, "    timestamp: {column: recorded_ns, unit: ns}", 12, "targets[0].timestamp.unit");
    keeping_on_erasure_without_a_reason_is_refused: edit(6, "on_erasure: keep", 6, "keep_reason");
    an_anonymising_rule_without_strategies_is_refused: rule(without_lines(GOOD_RULE, 14, 16), 9, "targets[0].anonymise");
    a_derived_strategy_without_a_marker_column_is_refused: rule(without_lines(GOOD_RULE, 17, 17), 14, "targets[0].marker");
    a_column_strategy_on_objects_is_refused: edit(22, "    anonymise: {round: 1}", 22, "targets[1].anonymise");
    an_object_strategy_on_a_column_is_refused: edit(16, "      cell_id: strip_gps", 16, "targets[0].anonymise.cell_id");
    rounding_to_ninety_nine_decimals_is_refused: edit(15, "      latitude: {round: 99}", 15, "targets[0].anonymise.latitude.round");
    an_unknown_strategy_is_refused: edit(16, "      cell_id: scramble", 16, "targets[0].anonymise.cell_id");
    truncating_a_date_to_a_week_is_refused: edit(16, "      cell_id: {truncate_date: week}", 16, "targets[0].anonymise.cell_id.truncate_date");
    anonymising_a_primary_key_column_is_refused: edit(16, "      id: null", 16, "targets[0].anonymise.id");
    a_key_pattern_with_two_placeholders_is_refused: edit(20, "    subject: {key: \"snapshots/{subject}/{subject}\"}", 20, "targets[1].subject.key");
    a_key_pattern_without_a_placeholder_is_refused: edit(20, "    subject: {key: \"snapshots/\"}", 20, "targets[1].subject.key");
    a_key_pattern_outside_the_prefix_is_refused: edit(20, "    subject: {key: \"photos/{subject}/\"}", 20, "targets[1].subject.key");
    an_object_subject_naming_two_places_is_refused: edit(20, "    subject: {metadata: account-id, tag: subject}", 20, "targets[1].subject");
    an_object_timestamp_that_is_not_last_modified_is_refused: edit(21, "    timestamp: mtime", 21, "targets[1].timestamp");
    a_prefix_that_climbs_out_of_the_store_is_refused: edit(19, "    prefix: ../etc/", 19, "targets[1].prefix");
    a_prefix_starting_with_a_dot_folder_is_refused: edit(19, "    prefix: ./photos/", 19, "targets[1].prefix");
    a_prefix_with_an_empty_folder_is_refused: edit(19, "    prefix: photos//", 19, "targets[1].prefix");
    a_via_hop_missing_its_key_is_refused: edit(13, "    subject: {column: order_id, via: {table: orders, subject: account_id}}", 13, "targets[0].subject.via.key");
    a_via_hop_with_an_unknown_field_is_refused: edit(13, "    subject: {column: order_id, via: {table: orders, key: id, subject: account_id, on: x}}", 13, "targets[0].subject.via.on");
    an_unknown_action_is_refused: edit(5, "on_expiry: purge", 5, "on_expiry");
    the_american_spelling_of_anonymise_is_refused_with_a_hint: edit(5, "on_expiry: anonymize", 5, "on_expiry");
    an_unknown_filter_operator_is_refused: edit(13, "    filter: {column: source, like: \"%x\"}", 13, "targets[0].filter.like");
    a_filter_with_two_conditions_is_refused: edit(13, "    filter: {column: source, eq: a, ne: b}", 13, "targets[0].filter");
    an_empty_in_list_is_refused: edit(13, "    filter: [{column: source, eq: a}, {column: kind, in: []}]", 13, "targets[0].filter[1].in");
    is_null_must_be_true_or_false: edit(13, "    filter: {column: source, is_null: sometimes}", 13, "targets[0].filter.is_null");
    a_target_that_is_both_a_table_and_a_prefix_is_refused: edit(11, "    prefix: x/", 9, "targets[0]");
    an_empty_key_list_is_refused: edit(11, "    key: []", 11, "targets[0].key");
    an_unknown_target_field_is_refused: edit(17, "    marker_column: anonymised_at", 17, "targets[0].marker_column");
    export_exclude_must_be_a_list_of_columns: edit(17, "    marker: anonymised_at\n    export_exclude: password_hash", 18, "targets[0].export_exclude");
    an_export_exclude_column_carrying_sql_is_refused: edit(17, "    marker: anonymised_at\n    export_exclude: [email, \"pw; --\"]", 18, "targets[0].export_exclude[1]");
    an_export_exclude_column_listed_twice_is_refused: edit(17, "    marker: anonymised_at\n    export_exclude: [pin, pin]", 18, "targets[0].export_exclude[1]");
    export_exclude_on_objects_is_refused: edit(21, "    timestamp: last_modified\n    export_exclude: [x]", 22, "targets[1].export_exclude");
    a_category_name_with_spaces_is_refused: edit(1, "category: \"Location Data\"", 1, "category");
    allow_mass_delete_must_be_a_boolean: edit(7, "allow_mass_delete: maybe", 7, "allow_mass_delete");
    targets_must_be_a_list: rule(without_lines(GOOD_RULE, 9, 22).replace("targets:", "targets: app"), 8, "targets");
    a_field_given_twice_is_refused: edit(7, "retain: 30d", 7, "retain");
    an_unclosed_quote_is_a_syntax_error_on_its_line: edit(2, "description: \"Location samples", 2, "");
    bad_indentation_is_a_syntax_error_on_its_line: edit(4, "   retain: 90d", 4, "");
}

#[test]
fn a_category_defined_twice_is_refused_in_the_second_file() {
    check_invalid(&Invalid {
        config: BASE_CONFIG.to_owned(),
        rules: vec![
            ("a_location.yaml", GOOD_RULE.to_owned()),
            ("b_location.yaml", GOOD_RULE.to_owned()),
        ],
        file: "b_location.yaml",
        line: 1,
        field: "category",
    });
}

#[test]
fn every_problem_in_every_file_is_reported_at_once() {
    let sandbox = crate::support::Sandbox::new();
    let config = sandbox.write("retention.yaml", BASE_CONFIG);
    sandbox.write("rules/a.yaml", &with_line(GOOD_RULE, 4, "retain: soon"));
    let b = with_line(
        &with_line(GOOD_RULE, 1, "category: other"),
        10,
        "    table: \"x y\"",
    );
    sandbox.write("rules/b.yaml", &with_line(&b, 22, "    anonymise: blur"));
    let out = sandbox.retention(&["--config", &config.to_string_lossy(), "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for want in [
        "a.yaml:4: retain: ",
        "b.yaml:10: targets[0].table: ",
        "b.yaml:22: targets[1].anonymise: ",
    ] {
        assert!(out.stderr.contains(want), "missing {want}:\n{}", out.stderr);
    }
}

#[test]
fn a_good_rule_passes_and_is_summarised() {
    let sandbox = crate::support::Sandbox::new();
    let config = sandbox.write("retention.yaml", BASE_CONFIG);
    sandbox.write("rules/location.yaml", GOOD_RULE);
    let out = sandbox.retention(&["--config", &config.to_string_lossy(), "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "ok: 1 rule, 2 targets in 2 stores");
}
