//! What a column's name and type say about its contents: the words of a name in any of
//! the usual spellings (`first_name`, `FirstName`, `firstname`, `E-Mail`), the kind of
//! personal data those words name, and whether a name looks like a credential (what
//! `export` leaves out). Pure: no I/O.

use super::kinds::Kind;

/// The lower-case words of an identifier: split at `_`, `-`, `.`, spaces, digits and
/// lower-to-upper case changes (`billingPostalCode` → `billing`, `postal`, `code`;
/// `HTTPRequest` → `http`, `request`).
pub fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphabetic() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if p.is_lowercase() && c.is_uppercase() => true,
            // The last capital of an acronym starts the next word: `HTTPRequest`.
            Some(p) if p.is_uppercase() && c.is_uppercase() => {
                next.is_some_and(|n| n.is_lowercase())
            }
            _ => false,
        };
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The name with every separator removed, lower case: `E_Mail` → `email`. Catches
/// spellings that run words together (`emailaddress`, `dateofbirth`).
fn squashed(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// How a kind is recognised by name: whole words, consecutive words, or a distinctive
/// run of letters anywhere in the squashed name (long enough not to occur by chance).
enum Pattern {
    Word(&'static str),
    Words(&'static [&'static str]),
    Contains(&'static str),
}

impl Pattern {
    fn matches(&self, words: &[String], squashed: &str) -> bool {
        match self {
            Pattern::Word(w) => words.iter().any(|x| x == w),
            Pattern::Words(ws) => words
                .windows(ws.len())
                .any(|win| win.iter().zip(ws.iter()).all(|(a, b)| a == b)),
            Pattern::Contains(s) => squashed.contains(s),
        }
    }

    /// The words that matched, for a reader: the pattern's words, or for a run of
    /// letters the column's own name (`LastName` matched by `lastname`).
    fn describe(&self, column: &str) -> String {
        match self {
            Pattern::Word(w) => (*w).to_owned(),
            Pattern::Words(ws) => ws.join("_"),
            Pattern::Contains(_) => column.to_owned(),
        }
    }

    /// Whether the pattern names an identifier ending in `word` (`device_id`), which a
    /// column ending in an id word may still match.
    fn ends_with(&self, word: &str) -> bool {
        matches!(self, Pattern::Words(ws) if ws.last() == Some(&word))
    }
}

/// Last words of a column that holds a time (`…_at`, `…_on`, `…_ts`).
const TIME_WORDS: &[&str] = &["at", "on", "ts", "time", "timestamp", "since", "until"];

/// Last words of a column that refers to something else rather than holding it:
/// `address_id` points at an address, it is not one.
const REFERENCE_WORDS: &[&str] = &["id", "ids", "uuid", "ref", "fk", "key"];

use Pattern::{Contains, Word, Words};

/// Name patterns per kind, tried in this order: the first kind with a matching pattern
/// wins, so `ip_address` is an IP address before it is a postal address, and
/// `device_id` a device identifier before a link to a person.
const NAME_PATTERNS: &[(Kind, &[Pattern])] = &[
    (
        Kind::IpAddress,
        &[
            Word("ip"),
            Word("ipv4"),
            Word("ipv6"),
            Contains("ipaddr"),
            Words(&["remote", "addr"]),
            Words(&["client", "addr"]),
            Words(&["remote", "host"]),
        ],
    ),
    (
        Kind::DeviceId,
        &[
            Word("imei"),
            Word("imsi"),
            Word("iccid"),
            Word("meid"),
            Word("udid"),
            Word("idfa"),
            Word("idfv"),
            Word("gaid"),
            Word("mac"),
            Contains("macaddr"),
            Contains("imei"),
            Contains("imsi"),
            Words(&["android", "id"]),
            Words(&["device", "id"]),
            Contains("deviceid"),
            Words(&["advertising", "id"]),
            Words(&["serial", "number"]),
            Words(&["hardware", "id"]),
            Words(&["push", "token"]),
            Words(&["device", "token"]),
        ],
    ),
    (
        Kind::Location,
        &[
            Contains("latitude"),
            Contains("longitude"),
            Word("lat"),
            Word("lng"),
            Word("lon"),
            Word("geo"),
            Contains("geolocation"),
            Word("geom"),
            Word("geometry"),
            Word("geography"),
            Word("gps"),
            Word("coordinates"),
            Word("coords"),
            Word("location"),
            Words(&["cell", "id"]),
        ],
    ),
    (Kind::Email, &[Contains("email"), Word("mail")]),
    (
        Kind::Phone,
        &[
            Contains("phone"),
            Word("tel"),
            Word("telephone"),
            Word("mobile"),
            Word("fax"),
            Word("msisdn"),
        ],
    ),
    (
        Kind::BirthDate,
        &[Contains("birth"), Word("dob"), Word("bday")],
    ),
    (Kind::Gender, &[Word("gender"), Word("sex")]),
    (
        Kind::NationalId,
        &[
            Word("ssn"),
            Contains("passport"),
            Words(&["national", "id"]),
            Words(&["social", "security"]),
            Words(&["tax", "id"]),
            Words(&["id", "card"]),
            Words(&["driving", "licence"]),
            Words(&["driver", "license"]),
        ],
    ),
    (
        Kind::Payment,
        &[
            Word("iban"),
            Contains("creditcard"),
            Words(&["card", "number"]),
            Words(&["account", "number"]),
        ],
    ),
    (
        Kind::UserAgent,
        &[Contains("useragent"), Words(&["user", "agent"])],
    ),
    (
        Kind::Cookie,
        &[Contains("cookie"), Words(&["session", "id"])],
    ),
    (
        Kind::Account,
        &[
            Contains("username"),
            Word("login"),
            Words(&["screen", "name"]),
            Words(&["user", "name"]),
        ],
    ),
    (
        Kind::Name,
        &[
            Contains("firstname"),
            Contains("lastname"),
            Contains("surname"),
            Contains("forename"),
            Contains("fullname"),
            Contains("givenname"),
            Contains("familyname"),
            Contains("middlename"),
            Contains("maidenname"),
            Contains("nickname"),
            Contains("displayname"),
            Words(&["contact", "name"]),
            Words(&["customer", "name"]),
            Words(&["billing", "name"]),
            Words(&["recipient", "name"]),
            Words(&["receiver", "name"]),
        ],
    ),
    (
        Kind::Address,
        &[
            Word("address"),
            Word("street"),
            Contains("postcode"),
            Contains("postalcode"),
            Word("zip"),
            Contains("zipcode"),
            Word("addr"),
        ],
    ),
    (
        Kind::Photo,
        &[
            Word("photo"),
            Word("picture"),
            Word("avatar"),
            Word("selfie"),
            Word("portrait"),
        ],
    ),
];

/// Words that name a person in a table name (`customer`, `employees`, `app_users`): in
/// such a table a bare `name` column is a person's name, and elsewhere (`genre.name`) it
/// is not.
const PERSON_NOUNS: &[&str] = &[
    "customer",
    "customers",
    "user",
    "users",
    "person",
    "persons",
    "people",
    "employee",
    "employees",
    "staff",
    "member",
    "members",
    "contact",
    "contacts",
    "patient",
    "patients",
    "student",
    "students",
    "account",
    "accounts",
    "subscriber",
    "subscribers",
    "profile",
    "profiles",
    "actor",
    "actors",
    "author",
    "authors",
    "client",
    "clients",
];

/// The person a `<noun>_id` column points at (`customer_id`, `userId`, `emp_no`): such a
/// column ties every row to a person.
const PERSON_REFERENCES: &[&str] = &[
    "customer",
    "user",
    "account",
    "member",
    "person",
    "employee",
    "emp",
    "staff",
    "patient",
    "student",
    "owner",
    "author",
    "sender",
    "recipient",
    "receiver",
    "subscriber",
    "buyer",
    "driver",
    "subject",
];

/// Why a column looks personal by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameMatch {
    pub kind: Kind,
    /// The word or words that matched, as written in the pattern (`email`, `first_name`).
    pub word: String,
}

/// The kind of personal data a column's name suggests, in the context of its table.
/// `None` when the name says nothing personal.
pub fn by_name(table: &str, column: &str) -> Option<NameMatch> {
    let w = words(column);
    let s = squashed(column);
    // `email_verified_at`, `ip_truncated_on`: when something happened to the data, not
    // the data. Only a date of birth is personal as a date.
    let about_time = w.len() > 1 && w.last().is_some_and(|l| TIME_WORDS.contains(&l.as_str()));
    let reference = w
        .last()
        .filter(|last| w.len() > 1 && REFERENCE_WORDS.contains(&last.as_str()));
    for (kind, patterns) in NAME_PATTERNS {
        if about_time && *kind != Kind::BirthDate {
            continue;
        }
        let found = patterns
            .iter()
            .filter(|p| reference.map_or(true, |last| p.ends_with(last)))
            .find(|p| p.matches(&w, &s));
        if let Some(p) = found {
            return Some(NameMatch {
                kind: *kind,
                word: p.describe(column),
            });
        }
    }
    let bare_name = matches!(w.as_slice(), [n] if n == "name" || n == "names");
    if bare_name
        && words(table)
            .iter()
            .any(|t| PERSON_NOUNS.contains(&t.as_str()))
    {
        return Some(NameMatch {
            kind: Kind::Name,
            word: "name".to_owned(),
        });
    }
    person_reference(&w).map(|noun| NameMatch {
        kind: Kind::PersonLink,
        word: noun,
    })
}

/// `customer_id`, `userid`, `emp_no`, `owner_uuid`: the words of a reference to a person.
fn person_reference(words: &[String]) -> Option<String> {
    const ID: &[&str] = &["id", "no", "nr", "num", "number", "uuid", "key"];
    if let Some([noun, id]) = words.windows(2).last() {
        if PERSON_REFERENCES.contains(&noun.as_str()) && ID.contains(&id.as_str()) {
            return Some(format!("{noun}_{id}"));
        }
    }
    let last = words.last()?;
    PERSON_REFERENCES
        .iter()
        .find(|noun| last.strip_prefix(**noun) == Some("id"))
        .map(|_| last.clone())
}

/// The kind of personal data a catalog type holds by itself (`inet` holds IP addresses
/// whatever the column is called).
pub fn by_type(type_name: &str) -> Option<Kind> {
    match type_name.trim().to_ascii_lowercase().as_str() {
        "inet" | "cidr" => Some(Kind::IpAddress),
        "macaddr" | "macaddr8" => Some(Kind::DeviceId),
        "point" | "geometry" | "geography" | "multipoint" => Some(Kind::Location),
        _ => None,
    }
}

/// Words of a credential: a column named with one of them holds a secret, or something
/// derived from one, that an export must not hand out.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "hash",
    "hashed",
    "secret",
    "secrets",
    "token",
    "salt",
    "otp",
    "totp",
    "hotp",
    "mfa",
    "credential",
    "credentials",
    "apikey",
    "cvv",
    "cvc",
    "pin",
    "nonce",
];

/// Runs of words that name a credential although neither word does alone.
const CREDENTIAL_PHRASES: &[&[&str]] = &[
    &["api", "key"],
    &["private", "key"],
    &["secret", "key"],
    &["access", "key"],
    &["signing", "key"],
    &["recovery", "code"],
    &["recovery", "codes"],
    &["backup", "code"],
    &["backup", "codes"],
    &["security", "answer"],
];

/// Distinctive spellings that run words together (`passwordhash`, `apitoken`).
const CREDENTIAL_RUNS: &[&str] = &["password", "passwd", "secret", "apikey", "privatekey"];

/// The word that makes a column name look like a credential (`password_hash` → `password`),
/// or `None`.
pub fn credential_like(column: &str) -> Option<String> {
    let w = words(column);
    if let Some(word) = w.iter().find(|x| CREDENTIAL_WORDS.contains(&x.as_str())) {
        return Some(word.clone());
    }
    if let Some(phrase) = CREDENTIAL_PHRASES.iter().find(|p| {
        w.windows(p.len())
            .any(|win| win.iter().zip(p.iter()).all(|(a, b)| a == b))
    }) {
        return Some(phrase.join("_"));
    }
    let s = squashed(column);
    CREDENTIAL_RUNS
        .iter()
        .find(|r| s.contains(**r))
        .map(|r| (*r).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_every_usual_spelling() {
        for (name, want) in [
            ("first_name", vec!["first", "name"]),
            ("FirstName", vec!["first", "name"]),
            ("billingPostalCode", vec!["billing", "postal", "code"]),
            ("E-Mail", vec!["e", "mail"]),
            ("HTTPRequest", vec!["http", "request"]),
            ("address2", vec!["address"]),
            ("IPAddress", vec!["ip", "address"]),
        ] {
            assert_eq!(words(name), want, "{name}");
        }
    }

    fn kind(table: &str, column: &str) -> Option<Kind> {
        by_name(table, column).map(|m| m.kind)
    }

    #[test]
    fn personal_columns_are_recognised_in_several_spellings() {
        use Kind::*;
        for (table, column, want) in [
            ("customer", "email", Email),
            ("customer", "EmailAddress", Email),
            ("customer", "e_mail", Email),
            ("t", "E-Mail", Email),
            ("t", "phone_number", Phone),
            ("t", "MobilePhone", Phone),
            ("t", "fax", Phone),
            ("t", "phone_no", Phone),
            ("t", "ip_address", IpAddress),
            ("t", "IPAddress", IpAddress),
            ("t", "remote_addr", IpAddress),
            ("t", "mac_address", DeviceId),
            ("t", "imei", DeviceId),
            ("t", "deviceId", DeviceId),
            ("t", "latitude", Location),
            ("t", "lng", Location),
            ("t", "cell_id", Location),
            ("t", "billing_address", Address),
            ("t", "PostalCode", Address),
            ("t", "zip", Address),
            ("t", "first_name", Name),
            ("t", "LastName", Name),
            ("t", "surname", Name),
            ("t", "birth_date", BirthDate),
            ("t", "DateOfBirth", BirthDate),
            ("t", "dob", BirthDate),
            ("t", "birth_date", BirthDate),
            ("t", "gender", Gender),
            ("t", "user_agent", UserAgent),
            ("t", "username", Account),
            ("invoice", "customer_id", PersonLink),
            ("t", "CustomerId", PersonLink),
            ("dept_emp", "emp_no", PersonLink),
            ("t", "userid", PersonLink),
            ("customer", "name", Name),
            ("app_users", "name", Name),
        ] {
            assert_eq!(kind(table, column), Some(want), "{table}.{column}");
        }
    }

    #[test]
    fn ordinary_columns_are_not_personal() {
        for (table, column) in [
            ("genre", "name"),
            ("track", "name"),
            ("track", "milliseconds"),
            ("invoice", "total"),
            ("album", "title"),
            ("film", "description"),
            ("t", "created_at"),
            ("t", "template"),
            ("t", "zipped"),
            ("t", "machine"),
            ("t", "latency"),
            ("customer", "address_id"),
            ("forum_posts", "ip_truncated_at"),
            ("accounts", "email_verified_at"),
            ("t", "email_id"),
            ("t", "location_key"),
        ] {
            assert_eq!(kind(table, column), None, "{table}.{column}");
        }
    }

    #[test]
    fn types_that_hold_personal_data_by_themselves() {
        assert_eq!(by_type("inet"), Some(Kind::IpAddress));
        assert_eq!(by_type("macaddr"), Some(Kind::DeviceId));
        assert_eq!(by_type("geometry"), Some(Kind::Location));
        assert_eq!(by_type("varchar"), None);
    }

    #[test]
    fn credential_like_columns_are_recognised() {
        for (column, want) in [
            ("password_hash", Some("password")),
            ("PasswordHash", Some("password")),
            ("passwordhash", Some("password")),
            ("api_token", Some("token")),
            ("apiKey", Some("api_key")),
            ("totp_secret", Some("totp")),
            ("salt", Some("salt")),
            ("reset_token_hash", Some("token")),
            ("recovery_codes", Some("recovery_codes")),
            ("email", None),
            ("display_name", None),
            ("hashtag", None),
            ("spinner", None),
        ] {
            assert_eq!(credential_like(column).as_deref(), want, "{column}");
        }
    }
}
