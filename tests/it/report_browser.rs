//! The HTML reports in a real browser: headless Chromium, with every network request
//! refused, opens the plan and run reports of the fixed scenario, the coverage report and
//! the record of processing, and the test checks that the page rendered (the expected
//! headings and charts in the dumped DOM, a screenshot that is not blank) and that it
//! fits a 1280 px window: no element reaches past the page's main column. The
//! screenshots are kept under `target/artifacts/` for a person to look at.
//!
//! Chromium is installed with `apt-get install -y chromium` when missing. The test skips,
//! saying why, only when that is impossible; under CI (`CI=true`) it fails instead.

use crate::report::{coverage_fixture, plan_fixture, run_fixture, RUN_CHECKPOINT};
use retention::report;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn find_chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let out = Command::new("which").arg(name).output().ok()?;
            let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
            (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
        })
}

/// Chromium, installed quietly if it is missing; `None` when it cannot be.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = find_chromium() {
        return Some(p);
    }
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-qq", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if installed {
        find_chromium()
    } else {
        None
    }
}

fn artifacts() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp; the artefacts sit beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("artifacts");
    std::fs::create_dir_all(&dir).expect("target/artifacts can be created");
    dir
}

/// Runs headless Chromium on a local file with the network off; returns its stdout.
fn headless(chromium: &Path, page: &Path, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            // Any request the page might make goes nowhere: a self-contained page does
            // not notice, a page that needs the network renders without it.
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // A safety net, not an assertion: a browser that hangs must not hang the suite.
    let deadline = Instant::now() + Duration::from_secs(300);
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    loop {
        if let Some(status) = child.try_wait().expect("chromium can be waited for") {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish with {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    reader.join().expect("the reader thread")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// A script the test adds to a copy of the page (the reports themselves run none): it
/// lists every element whose box reaches past the right edge of `main`, the page's
/// column, and writes them into the DOM for `--dump-dom`.
const MEASURE: &str = "<script>(function(){var m=document.querySelector('main').getBoundingClientRect();\
var out=[];document.querySelectorAll('main *').forEach(function(e){var r=e.getBoundingClientRect();\
if(r.width>0&&r.right>m.right+0.5){out.push(e.tagName.toLowerCase()+(e.className?'.'+e.className:'')+' '+Math.round(r.right)+'>'+Math.round(m.right));}});\
var p=document.createElement('pre');p.id='overflow';p.textContent='OVERFLOW['+out.slice(0,8).join('; ')+']';\
document.body.appendChild(p);})();</script>";

fn check_page(chromium: &Path, name: &str, html: &str, headings: &[&str]) {
    let dir = artifacts();
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let dom = headless(chromium, &page, &["--dump-dom"]);
    for h in headings {
        assert!(
            dom.contains(&format!(">{h}</h")),
            "heading `{h}` missing from the rendered {name} page"
        );
    }
    // The same page with the measuring script, in a 1280 px window.
    let measured = dir.join(format!("{name}.measured.html"));
    std::fs::write(
        &measured,
        html.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();
    let dom = headless(
        chromium,
        &measured,
        &["--window-size=1280,2400", "--dump-dom"],
    );
    assert!(
        dom.contains("OVERFLOW[]"),
        "elements of the {name} page are wider than the page at 1280 px: {}",
        dom.split("OVERFLOW[")
            .nth(1)
            .unwrap_or("(not measured)")
            .split(']')
            .next()
            .unwrap_or("")
    );
    let shot = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    headless(
        chromium,
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote a screenshot");
    assert_eq!(png_size(&png), (1280, 2400));
    // A blank page of this size compresses to a few kilobytes; text, tables and charts
    // do not.
    assert!(
        png.len() > 40_000,
        "the {name} screenshot looks blank ({} bytes)",
        png.len()
    );
    eprintln!("Kept {} and {}.", page.display(), shot.display());
}

#[test]
fn the_html_reports_render_in_a_browser_with_the_network_off() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required under CI: apt-get install -y chromium"
        );
        eprintln!(
            "SKIPPED: chromium is not installed and `apt-get install -y chromium` failed; \
             the HTML reports were not checked in a browser."
        );
        return;
    };
    let (plan, extras) = plan_fixture();
    let dom_plan = report::html::plan(&plan, &extras);
    check_page(
        &chromium,
        "plan",
        &dom_plan,
        &[
            "Retention plan",
            "Summary",
            "Categories",
            "location",
            "messages",
            "logs",
            "Pending erasure requests",
            "Legal holds in force",
            "Not covered by any rule",
            "Rule problems",
            "Sign-off",
        ],
    );
    let rules = crate::compliance::shipped_rules();
    check_page(
        &chromium,
        "run",
        &report::run::html_with_rules(&run_fixture(), Some(RUN_CHECKPOINT), Some(&rules)),
        &[
            "Retention run report",
            "What was done",
            "Erasure requests",
            "Kept by the rules",
            "Policy clauses",
            "Checkpoint",
        ],
    );
    // The demo's longest names made the "What was done" table overflow a 1280 px window.
    let long: Vec<_> = crate::report::RUN_LINES
        .iter()
        .map(|l| {
            let l = l
                .replace(
                    "\"category\":\"location\"",
                    "\"category\":\"marketing_consent\"",
                )
                .replace("device_locations", "sim_activation_failures")
                .replace("chat-attachments/", "crash-dumps/with-a-long-folder-name/");
            retention::report::run::RunEntry::parse(l.as_bytes()).unwrap()
        })
        .collect();
    check_page(
        &chromium,
        "run-long-names",
        &report::run::html_with_rules(&long, Some(RUN_CHECKPOINT), Some(&rules)),
        &["Retention run report", "What was done"],
    );
    let at = "2026-11-23T03:00:00Z".parse().unwrap();
    check_page(
        &chromium,
        "coverage",
        &report::coverage::html(&coverage_fixture(), at),
        &[
            "Coverage of personal data",
            "Personal data in tables",
            "Objects",
            "What was looked at",
        ],
    );
    let stores = crate::compliance::shipped_stores();
    check_page(
        &chromium,
        "ropa",
        &report::ropa::html(&crate::compliance::ropa_input(&rules, &stores)),
        &[
            "Record of processing: retention and erasure",
            "Retention by category",
            "Categories",
            "account",
            "invoices",
        ],
    );
}

#[tokio::test]
async fn the_erasure_certificate_renders_and_checks_its_proofs_in_a_browser_with_the_network_off() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required under CI: apt-get install -y chromium"
        );
        eprintln!(
            "SKIPPED: chromium is not installed; the certificate was not checked in a browser."
        );
        return;
    };
    let s = crate::audit::scenario(retention::stores::sql::Dialect::Sqlite).await;
    let log = retention::audit::sql::read_log(s.pool()).await.unwrap();
    let cert =
        retention::audit::certificate::certificate(&log, "DSAR-1", &s.verifiers(), Some(&s.vkey))
            .unwrap();
    let html = report::certificate::html(&cert);
    check_page(
        &chromium,
        "certificate",
        &html,
        &[
            "Erasure request DSAR-1",
            "What was done",
            "Checkpoint",
            "How to verify",
            "Proofs",
        ],
    );
    // The page's own script recomputes every inclusion proof with the browser's SHA-256.
    let page = artifacts().join("certificate.html");
    let dom = headless(
        &chromium,
        &page,
        &["--virtual-time-budget=10000", "--dump-dom"],
    );
    let n = cert.entries.len();
    assert!(
        dom.contains(&format!("✓ {n} of {n} inclusion proofs check out")),
        "the in-page check did not pass:\n{}",
        dom.lines()
            .filter(|l| l.contains("browser-check"))
            .collect::<String>()
    );
    // A doctored line is caught by the same script.
    let mut bad = cert.clone();
    bad.entries[0].line = bad.entries[0].line.replace("\"count\":12", "\"count\":99");
    let page = artifacts().join("certificate-doctored.html");
    std::fs::write(&page, report::certificate::html(&bad)).unwrap();
    let dom = headless(
        &chromium,
        &page,
        &["--virtual-time-budget=10000", "--dump-dom"],
    );
    assert!(
        dom.contains(&format!("✗ {} of {n} inclusion proofs", n - 1)),
        "the doctored certificate passed the in-page check"
    );
}
