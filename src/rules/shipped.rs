//! The rule set that ships in the repository's `rules/` directory, embedded in the binary
//! so `retention demo` works from any directory.
//!
//! A test (`the_embedded_rule_set_is_the_rules_directory`) keeps this list in step with
//! the directory.

/// `(file name, contents)` of every shipped rule file, in file-name order.
pub const FILES: &[(&str, &str)] = &[
    ("account.yaml", include_str!("../../rules/account.yaml")),
    (
        "cloud_backups.yaml",
        include_str!("../../rules/cloud_backups.yaml"),
    ),
    (
        "cloud_sync.yaml",
        include_str!("../../rules/cloud_sync.yaml"),
    ),
    ("cookies.yaml", include_str!("../../rules/cookies.yaml")),
    (
        "crash_reports.yaml",
        include_str!("../../rules/crash_reports.yaml"),
    ),
    ("delivery.yaml", include_str!("../../rules/delivery.yaml")),
    (
        "device_ids.yaml",
        include_str!("../../rules/device_ids.yaml"),
    ),
    ("feedback.yaml", include_str!("../../rules/feedback.yaml")),
    (
        "find_device.yaml",
        include_str!("../../rules/find_device.yaml"),
    ),
    ("forum.yaml", include_str!("../../rules/forum.yaml")),
    ("invoices.yaml", include_str!("../../rules/invoices.yaml")),
    ("location.yaml", include_str!("../../rules/location.yaml")),
    ("logs.yaml", include_str!("../../rules/logs.yaml")),
    (
        "marketing_consent.yaml",
        include_str!("../../rules/marketing_consent.yaml"),
    ),
    (
        "message_routing.yaml",
        include_str!("../../rules/message_routing.yaml"),
    ),
    ("messages.yaml", include_str!("../../rules/messages.yaml")),
    ("orders.yaml", include_str!("../../rules/orders.yaml")),
    (
        "photo_location.yaml",
        include_str!("../../rules/photo_location.yaml"),
    ),
    (
        "push_marketing.yaml",
        include_str!("../../rules/push_marketing.yaml"),
    ),
    (
        "sim_activation.yaml",
        include_str!("../../rules/sim_activation.yaml"),
    ),
    (
        "user_experience.yaml",
        include_str!("../../rules/user_experience.yaml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::FILES;
    use crate::config::StoreConfig;
    use secrecy::SecretString;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn stores() -> BTreeMap<String, StoreConfig> {
        BTreeMap::from([
            (
                "app".to_owned(),
                StoreConfig::Sql {
                    url: SecretString::from("sqlite://demo.db".to_owned()),
                },
            ),
            (
                "media".to_owned(),
                StoreConfig::Dir {
                    path: PathBuf::from("media"),
                },
            ),
        ])
    }

    #[test]
    fn the_shipped_rules_load_without_a_single_diagnostic() {
        let files: Vec<(PathBuf, Vec<u8>)> = FILES
            .iter()
            .map(|(name, text)| (PathBuf::from("rules").join(name), text.as_bytes().to_vec()))
            .collect();
        let set = crate::rules::parse(&files, &stores()).unwrap_or_else(|d| panic!("{d}"));
        assert!(set.rules.len() >= 12, "only {} rules", set.rules.len());
        assert!(set
            .rules
            .iter()
            .all(|r| !r.source.is_empty() && !r.description.is_empty()));
    }

    #[test]
    fn the_embedded_rule_set_is_the_rules_directory() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p.file_name().unwrap().to_string_lossy().into_owned(), text)
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<(String, String)> = FILES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(
            embedded, on_disk,
            "update src/rules/shipped.rs after changing rules/"
        );
    }
}
