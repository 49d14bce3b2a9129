//! The rule set that ships in the repository's `rules/` directory, embedded in the binary
//! so `retention demo` works from any directory.
//!
//! A test (`the_embedded_rule_set_is_the_rules_directory`) keeps this list in step with
//! the directory.

/// `(file name, contents)` of every shipped rule file, in file-name order.
pub const FILES: &[(&str, &str)] = &[
    ("account.yaml", include_str!("../../rules/account.yaml")),
    ("cloud_backups.yaml", include_str!("../../rules/cloud_backups.yaml")),
    ("cloud_sync.yaml", include_str!("../../rules/cloud_sync.yaml")),
    ("cookies.yaml", include_str!("../../rules/cookies.yaml")),
    ("crash_reports.yaml", include_str!("../../rules/crash_reports.yaml")),
    ("delivery.yaml", include_str!("../../rules/delivery.yaml")),
    ("device_ids.yaml", include_str!("../../rules/device_ids.yaml")),
    ("feedback.yaml", include_str!("../../rules/feedback.yaml")),
    ("find_device.yaml", include_str!("../../rules/find_device.yaml")),
    ("forum.yaml", include_str!("../../rules/forum.yaml")),
    ("invoices.yaml", include_str!("../../rules/invoices.yaml")),
    ("location.yaml", include_str!("../../rules/location.yaml")),
    ("logs.yaml", include_str!("../../rules/logs.yaml")),
    ("marketing_consent.yaml", include_str!("../../rules/marketing_consent.yaml")),
    ("message_routing.yaml", include_str!("../../rules/message_routing.yaml")),
    ("messages.yaml", include_str!("../../rules/messages.yaml")),
    ("orders.yaml", include_str!("../../rules/orders.yaml")),
    ("photo_location.yaml", include_str!("../../rules/photo_location.yaml")),
    ("push_marketing.yaml", include_str!("../../rules/push_marketing.yaml")),
    ("sim_activation.yaml", include_str!("../../rules/sim_activation.yaml")),
    ("user_experience.yaml", include_str!("../../rules/user_experience.yaml")),
];
