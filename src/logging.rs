//! Log lines on stderr: sentences for a person (`--log-format text`), one JSON object per
//! line for a log pipeline (`--log-format json`).
//!
//! Text is coloured only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (<https://no-color.org>); a pipe, a file, CI or `kubectl logs` get plain text.
//!
//! A JSON line is one object with unique keys: `timestamp`, `level`, `message`, the
//! fields of every span the event is in (a run's `run_id`), the event's own fields
//! (`category`, `store`, `target`, `outcome`, counts…) and `module`, the Rust module that
//! logged it. tracing calls that module path its "target"; here `target` is always ours
//! (the table or object prefix), so the two never collide. An error that ends a command
//! is logged as such a line too ([`fatal`]), and so are the warnings and notes commands
//! print on stderr ([`warning`], [`note`]).

use crate::cli::LogFormat;
use serde_json::{Map, Value};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

static JSON: AtomicBool = AtomicBool::new(false);
static PROGRESS: AtomicBool = AtomicBool::new(false);

/// Whether logs are JSON lines.
pub fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Whether long work shows a progress bar: only on a terminal, and not with JSON logs
/// (a pod has no terminal; its logs are read by machines).
pub fn progress_bars() -> bool {
    PROGRESS.load(Ordering::Relaxed)
}

/// Whether text on stderr may carry ANSI colours: a terminal, and no `NO_COLOR`.
pub fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// Libraries whose debug logs carry what the tool's own logs never do — the AWS SDK
/// prints each request's object key, which may embed a subject id — are capped at `info`
/// unless `RETENTION_LOG` names them itself (`aws_smithy_runtime=debug`). The SDK's
/// credential chain (`aws_config`) is capped at `error`: where no credentials are found it
/// warns with a debug dump of each provider's failure, and the tool's own error already
/// says that none were found and where they come from.
fn with_quiet_libraries(asked: &str) -> String {
    const LIBRARIES: [(&str, &str); 7] = [
        ("aws_smithy_runtime", "info"),
        ("aws_smithy_runtime_api", "info"),
        ("aws_sdk_s3", "info"),
        ("aws_config", "error"),
        ("aws_sigv4", "info"),
        ("aws_smithy_http", "info"),
        // PostgreSQL's notices to the client ("relation … already exists, skipping" on a
        // second `migrate`): the server's chatter, not the tool's.
        ("sqlx::postgres::notice", "warn"),
    ];
    let mut filter = asked.to_owned();
    for (lib, level) in LIBRARIES.iter().filter(|(l, _)| !asked.contains(*l)) {
        filter.push_str(&format!(",{lib}={level}"));
    }
    filter
}

/// Sets up `tracing` on stderr. The level comes from `RETENTION_LOG` (an `EnvFilter`,
/// default `info`), with the libraries of [`with_quiet_libraries`] capped.
pub fn init(format: LogFormat) {
    JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    PROGRESS.store(
        format == LogFormat::Text && std::io::stderr().is_terminal(),
        Ordering::Relaxed,
    );
    let asked = std::env::var("RETENTION_LOG").unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(with_quiet_libraries(&asked))
        .or_else(|_| EnvFilter::try_new(&asked))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // A second initialisation (tests that call commands in-process) keeps the first.
    match format {
        LogFormat::Text => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_ansi(colour())
                .with_target(false)
                .try_init();
        }
        LogFormat::Json => {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(JsonLines)
                .try_init();
        }
    }
}

/// The error that ends a command: `error: …` on stderr, or a JSON line at level error.
pub fn fatal(message: &str, exit_code: u8) {
    if json() {
        tracing::error!(exit_code, "{message}");
    } else {
        eprintln!("error: {message}");
    }
}

/// A warning a command prints on stderr: `warning: …`, or a JSON line at level warn.
pub fn warning(message: &str) {
    if json() {
        tracing::warn!("{message}");
    } else {
        eprintln!("warning: {message}");
    }
}

/// A note a command prints on stderr: `note: …`, or a JSON line at level info.
pub fn note(message: &str) {
    if json() {
        tracing::info!("{message}");
    } else {
        eprintln!("note: {message}");
    }
}

/// A failure a command reports without ending: `error: …`, or a JSON line at level error.
pub fn error(message: &str) {
    if json() {
        tracing::error!("{message}");
    } else {
        eprintln!("error: {message}");
    }
}

/// The fields of a span, kept in its extensions for the events inside it.
struct SpanFields(Map<String, Value>);

/// Collects fields as JSON values.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}

/// One JSON object per event, span fields flattened in (see the module doc).
struct JsonLines;

impl<S> Layer<S> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut map = Map::new();
        attrs.record(&mut Fields(&mut map));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(map));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<SpanFields>() {
                values.record(&mut Fields(&mut fields.0));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut map = Map::new();
        map.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        map.insert("level".into(), meta.level().as_str().into());
        map.insert("message".into(), Value::String(String::new()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        event.record(&mut Fields(&mut map));
        // Events forwarded from the `log` crate (sqlx) carry their origin in `log.*`
        // fields; tracing's own target is the module path.
        let module = map
            .remove("log.target")
            .unwrap_or_else(|| meta.target().into());
        map.retain(|k, _| !k.starts_with("log."));
        map.entry("module").or_insert(module);
        let mut line = match serde_json::to_vec(&Value::Object(map)) {
            Ok(l) => l,
            Err(_) => return,
        };
        line.push(b'\n');
        let _ = std::io::stderr().lock().write_all(&line);
    }
}
