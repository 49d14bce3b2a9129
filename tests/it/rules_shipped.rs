//! The rule set shipped in `rules/` is valid as it stands.

use crate::support::Sandbox;

#[test]
fn the_shipped_rules_pass_check_with_zero_diagnostics() {
    let sandbox = Sandbox::new();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let config = sandbox.write(
        "retention.yaml",
        &format!(
            "stores:\n  app: {{url: \"sqlite://app.db\"}}\n  media: {{dir: ./media}}\nstate: app\n\
             audit:\n  pseudonym_key: \"0123456789abcdef0123456789abcdef\"\nrules: {rules}\n"
        ),
    );
    let out = sandbox.retention(&["--config", &config.to_string_lossy(), "check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "", "a valid rule set prints no diagnostics");
    let count: usize = out
        .stdout
        .trim()
        .strip_prefix("ok: ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary: {}", out.stdout));
    assert!(count >= 12, "only {count} shipped rules");
    assert!(out.stdout.trim().ends_with("in 2 stores"), "{}", out.stdout);
}
