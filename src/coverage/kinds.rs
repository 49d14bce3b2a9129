//! The kinds of personal data `coverage` looks for, how reports word them, and the shipped
//! category (`rules/`) closest to a finding: from the table's name where it says what the
//! rows are (`invoice`, `chat_messages`), else from the kind of data. Pure: no I/O.

use super::names::words;
use serde::Serialize;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Email,
    Phone,
    Name,
    Address,
    BirthDate,
    Gender,
    IpAddress,
    DeviceId,
    Location,
    NationalId,
    Payment,
    UserAgent,
    Cookie,
    Account,
    Photo,
    /// A reference to a person (`customer_id`, or a foreign key to a table of people):
    /// every row is about someone.
    PersonLink,
}

impl Kind {
    /// The name scripts see (`json`): `email`, `ip_address`, …
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Name => "name",
            Kind::Address => "address",
            Kind::BirthDate => "birth_date",
            Kind::Gender => "gender",
            Kind::IpAddress => "ip_address",
            Kind::DeviceId => "device_id",
            Kind::Location => "location",
            Kind::NationalId => "national_id",
            Kind::Payment => "payment",
            Kind::UserAgent => "user_agent",
            Kind::Cookie => "cookie",
            Kind::Account => "account",
            Kind::Photo => "photo",
            Kind::PersonLink => "person_link",
        }
    }

    /// What people read: `email addresses`, `links to a person`.
    pub fn label(&self) -> &'static str {
        match self {
            Kind::Email => "email addresses",
            Kind::Phone => "phone or fax numbers",
            Kind::Name => "names of people",
            Kind::Address => "postal addresses",
            Kind::BirthDate => "dates of birth",
            Kind::Gender => "gender",
            Kind::IpAddress => "IP addresses",
            Kind::DeviceId => "device or SIM identifiers",
            Kind::Location => "locations",
            Kind::NationalId => "national identity numbers",
            Kind::Payment => "payment details",
            Kind::UserAgent => "browser user agents",
            Kind::Cookie => "cookie or session ids",
            Kind::Account => "account names",
            Kind::Photo => "pictures of people",
            Kind::PersonLink => "links to a person",
        }
    }

    /// Whether the value identifies or describes a person by itself (an email does; a
    /// `customer_id` only points at someone).
    pub fn is_direct(&self) -> bool {
        !matches!(self, Kind::PersonLink)
    }

    /// The shipped category for this kind when the table's name says nothing.
    fn category(&self) -> &'static str {
        match self {
            Kind::Email
            | Kind::Phone
            | Kind::Name
            | Kind::BirthDate
            | Kind::Gender
            | Kind::NationalId
            | Kind::Account
            | Kind::Photo
            | Kind::PersonLink => "account",
            Kind::Address => "delivery",
            Kind::IpAddress | Kind::UserAgent => "logs",
            Kind::DeviceId => "device_ids",
            Kind::Location => "location",
            Kind::Payment => "orders",
            Kind::Cookie => "cookies",
        }
    }
}

/// Words of a table name that say which category its rows belong to, most specific
/// first (a `message_delivery_log` is about messages before it is a log).
const TABLE_HINTS: &[(&[&str], &str)] = &[
    (
        &["invoice", "invoices", "billing", "receipt", "receipts"],
        "invoices",
    ),
    (&["crash", "crashes", "dump", "dumps"], "crash_reports"),
    (&["backup", "backups"], "cloud_backups"),
    (
        &[
            "message",
            "messages",
            "chat",
            "chats",
            "conversation",
            "conversations",
        ],
        "messages",
    ),
    (
        &["feedback", "review", "reviews", "complaint", "complaints"],
        "feedback",
    ),
    (
        &[
            "post", "posts", "comment", "comments", "forum", "thread", "threads",
        ],
        "forum",
    ),
    (
        &[
            "consent",
            "consents",
            "newsletter",
            "newsletters",
            "unsubscribe",
        ],
        "marketing_consent",
    ),
    (
        &[
            "push",
            "notification",
            "notifications",
            "campaign",
            "campaigns",
        ],
        "push_marketing",
    ),
    (&["cookie", "cookies"], "cookies"),
    (&["sim", "sims"], "sim_activation"),
    (&["device", "devices"], "device_ids"),
    (
        &[
            "location",
            "locations",
            "position",
            "positions",
            "gps",
            "geo",
        ],
        "location",
    ),
    (&["photo", "photos", "image", "images"], "photo_location"),
    (
        &["contact", "contacts", "call", "calls", "sms"],
        "cloud_sync",
    ),
    (
        &[
            "delivery",
            "deliveries",
            "shipment",
            "shipments",
            "shipping",
            "address",
            "addresses",
        ],
        "delivery",
    ),
    (
        &[
            "order",
            "orders",
            "purchase",
            "purchases",
            "cart",
            "carts",
            "payment",
            "payments",
            "rental",
            "rentals",
            "sale",
            "sales",
        ],
        "orders",
    ),
    (&["log", "logs", "access", "audit"], "logs"),
    (
        &[
            "event",
            "events",
            "analytics",
            "usage",
            "pageview",
            "pageviews",
        ],
        "user_experience",
    ),
];

/// The shipped category closest to a finding of `kind` in `table`.
pub fn suggest(kind: Kind, table: &str) -> &'static str {
    let w = words(table);
    TABLE_HINTS
        .iter()
        .find(|(hints, _)| w.iter().any(|x| hints.contains(&x.as_str())))
        .map(|(_, category)| *category)
        .unwrap_or_else(|| kind.category())
}

/// The shipped category closest to objects under a top-level folder, from its name (as
/// for tables), or `None` when the name says nothing.
pub fn suggest_for_prefix(prefix: &str) -> Option<&'static str> {
    let w = words(prefix);
    TABLE_HINTS
        .iter()
        .find(|(hints, _)| w.iter().any(|x| hints.contains(&x.as_str())))
        .map(|(_, category)| *category)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::shipped::FILES;

    const ALL: [Kind; 16] = [
        Kind::Email,
        Kind::Phone,
        Kind::Name,
        Kind::Address,
        Kind::BirthDate,
        Kind::Gender,
        Kind::IpAddress,
        Kind::DeviceId,
        Kind::Location,
        Kind::NationalId,
        Kind::Payment,
        Kind::UserAgent,
        Kind::Cookie,
        Kind::Account,
        Kind::Photo,
        Kind::PersonLink,
    ];

    fn shipped(category: &str) -> bool {
        FILES
            .iter()
            .any(|(file, _)| *file == format!("{category}.yaml"))
    }

    #[test]
    fn every_suggestion_is_a_shipped_category() {
        for k in ALL {
            assert!(shipped(k.category()), "{k:?} suggests {}", k.category());
        }
        for (_, category) in TABLE_HINTS {
            assert!(shipped(category), "{category} is not shipped");
        }
    }

    #[test]
    fn the_table_name_says_what_its_rows_are_before_the_column_does() {
        assert_eq!(suggest(Kind::Address, "invoice"), "invoices");
        assert_eq!(suggest(Kind::Email, "customer"), "account");
        assert_eq!(suggest(Kind::PersonLink, "rental"), "orders");
        assert_eq!(suggest(Kind::IpAddress, "forum_posts"), "forum");
        assert_eq!(suggest(Kind::IpAddress, "sessions"), "logs");
        assert_eq!(suggest(Kind::Phone, "chat_messages"), "messages");
        assert_eq!(suggest_for_prefix("avatars"), None);
        assert_eq!(suggest_for_prefix("crash-dumps"), Some("crash_reports"));
    }
}
