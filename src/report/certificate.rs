//! The erasure certificate as one self-contained HTML page (`audit certificate --format
//! html`): what was done for the request, in words and tables, then the proof material —
//! every entry's exact line, leaf hash, signature and audit path, and the signed
//! checkpoint — and the certificate itself as JSON inside the page, so the file a DPO hands
//! over is also the file a verifier checks. A small script recomputes every inclusion
//! proof in the reader's browser (Web Crypto SHA-256, no network); signatures are checked
//! with the verifier key as docs/audit-proofs.md shows.

use super::html::esc;
use crate::audit::certificate::Certificate;
use serde_json::Value;
use std::fmt::Write;

/// One entry's fields as the page shows them.
struct Row {
    seq: u64,
    time: String,
    kind: String,
    what: String,
    target: String,
    count: String,
    outcome: String,
}

fn text(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn row(seq: u64, line: &str) -> Row {
    let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    let kind = text(&v, "kind").unwrap_or_default();
    let what = match kind.as_str() {
        "hold" => format!(
            "hold {}{}",
            text(&v, "hold").unwrap_or_default(),
            text(&v, "until")
                .map(|u| format!(" (until {u})"))
                .unwrap_or_default()
        ),
        "request_queued" => "request queued".to_owned(),
        "request" => "request finished".to_owned(),
        "skip" => format!(
            "{} skipped",
            text(&v, "action").unwrap_or_else(|| "records".into())
        ),
        _ => text(&v, "action").unwrap_or_else(|| kind.clone()),
    };
    let target = match (text(&v, "category"), text(&v, "store"), text(&v, "target")) {
        (Some(c), Some(s), Some(t)) => format!("{c}: {s}/{t}"),
        _ => "–".to_owned(),
    };
    let mut count = text(&v, "count").unwrap_or_else(|| "–".into());
    for (k, label) in [("held", "held"), ("locked", "locked")] {
        if let Some(n) = text(&v, k).filter(|n| n != "0") {
            let _ = write!(count, " ({n} {label})");
        }
    }
    Row {
        seq,
        time: text(&v, "time").unwrap_or_default(),
        kind,
        what,
        target,
        count,
        outcome: text(&v, "outcome").unwrap_or_default(),
    }
}

/// The certificate as a self-contained HTML page.
pub fn html(cert: &Certificate) -> String {
    let rows: Vec<Row> = cert.entries.iter().map(|e| row(e.seq, &e.line)).collect();
    let outcome = rows
        .iter()
        .rev()
        .find(|r| r.kind == "request")
        .map(|r| r.outcome.clone());
    let mut b = String::new();
    let w = &mut b;
    let _ = write!(
        w,
        "<header><p class=\"eyebrow\">Erasure certificate</p><h1>Erasure request {}</h1>\
         <p class=\"lede\">What was done for this request, as recorded in a tamper-evident audit \
         log, with the proofs that each record is in the log the checkpoint below signs. \
         The subject appears only as a keyed pseudonym.</p><dl class=\"meta\">",
        esc(&cert.ticket)
    );
    let facts = [
        ("Ticket", cert.ticket.clone()),
        ("Outcome", outcome.unwrap_or_else(|| "not finished".into())),
        (
            "Subject (pseudonym)",
            cert.subject.clone().unwrap_or_else(|| "–".into()),
        ),
        ("Log", cert.origin.clone()),
        ("Checkpoint size", cert.tree_size.to_string()),
        (
            "Signed by key",
            cert.key_name.clone().unwrap_or_else(|| "–".into()),
        ),
    ];
    for (k, v) in facts {
        let _ = write!(w, "<dt>{}</dt><dd><code>{}</code></dd>", esc(k), esc(&v));
    }
    w.push_str("</dl></header>");

    w.push_str("<section id=\"done\"><h2>What was done</h2><table><thead><tr><th class=\"n\">Seq</th><th>Time</th><th>Event</th><th>Category and target</th><th>Records</th><th>Outcome</th></tr></thead><tbody>");
    for r in &rows {
        let _ = write!(
            w,
            "<tr><td class=\"n\">{}</td><td class=\"nw\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            r.seq,
            esc(&r.time),
            esc(&r.what),
            esc(&r.target),
            esc(&r.count),
            esc(&r.outcome)
        );
    }
    w.push_str("</tbody></table>");
    if rows.iter().any(|r| r.kind == "hold") {
        w.push_str(
            "<p>Records of this subject that a legal hold covered were left alone; the \
             <em>hold</em> rows show when holds were placed, lifted or lapsed (never why: the \
             reason is not in the log).</p>",
        );
    }
    w.push_str("</section>");

    let _ = write!(
        w,
        "<section id=\"checkpoint\"><h2>Checkpoint</h2><p>A signed statement by the log: it \
         held {} entries with the tree head below. Its signature is checked with the \
         organisation's verifier key{}.</p><pre class=\"box\">{}</pre>",
        cert.tree_size,
        cert.verifier_key
            .as_deref()
            .map(|k| format!(" (<code>{}</code>)", esc(k)))
            .unwrap_or_default(),
        esc(cert.checkpoint.trim_end())
    );
    w.push_str(
        "<p id=\"browser-check\" class=\"check\">Checking the inclusion proofs in this browser…</p></section>",
    );

    w.push_str(
        "<section id=\"verify\"><h2>How to verify</h2><ol>\
         <li>Take the verifier key from the organisation (not from this page) and check the \
         checkpoint's signature: it is a C2SP signed note with an Ed25519 signature.</li>\
         <li>For each entry below, hash its exact line as an RFC 6962 leaf, \
         <code>SHA-256(0x00 ‖ line)</code>, and check its audit path against the \
         checkpoint's root at leaf index <code>seq − 1</code> (RFC 9162 §2.1.3.2).</li>\
         <li>Check each entry's signature: the same key signed the one-line text \
         <code>retention-audit-entry/v1 &lt;seq&gt; &lt;base64 leaf hash&gt;</code>.</li></ol>\
         <p>Any RFC 6962 / RFC 9162 and signed-note implementation can do this; the \
         certificate is also embedded in this page as JSON (format \
         <code>retention-erasure-certificate/v1</code>, documented in docs/audit-proofs.md), \
         and <code>retention audit verify --key</code> checks the whole log.</p></section>",
    );

    w.push_str("<section id=\"proofs\"><h2>Proofs</h2>");
    for e in &cert.entries {
        let _ = write!(
            w,
            "<article class=\"proof\" data-seq=\"{}\"><h3>Entry {} <span class=\"status\"></span></h3>\
             <pre class=\"box line\">{}</pre><dl class=\"hashes\"><dt>Leaf hash</dt><dd><code>{}</code></dd>\
             <dt>Entry signature</dt><dd><code>{}</code></dd><dt>Audit path</dt><dd>{}</dd></dl></article>",
            e.seq,
            e.seq,
            esc(&e.line),
            esc(&e.leaf_hash),
            esc(e.entry_signature.as_deref().unwrap_or("none (written without a signing key)")),
            if e.inclusion_proof.is_empty() {
                "–".to_owned()
            } else {
                e.inclusion_proof
                    .iter()
                    .map(|h| format!("<code>{}</code>", esc(h)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            }
        );
    }
    w.push_str("</section>");
    let json = serde_json::to_string(cert)
        .expect("a certificate serialises")
        .replace('<', "\\u003c");
    let _ = write!(
        w,
        "<script type=\"application/json\" id=\"retention-certificate\">{json}</script>\
         <script>{SCRIPT}</script>"
    );
    page(&format!("Erasure certificate — {}", cert.ticket), &b)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"retention {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n<main>{body}<footer>Generated by retention {} from the audit log. It names the \
         subject only by pseudonym and holds no record contents.</footer></main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title),
        env!("CARGO_PKG_VERSION"),
    )
}

/// System fonts only: the page renders the same with the network off.
const STYLE: &str = r#"
:root{--ink:#1f2933;--muted:#616e7c;--line:#e4e7eb;--soft:#f5f7fa;--navy:#1d3557;--ok:#1e7b4c;--bad:#b42318}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:32px 40px 48px;background:#fff;min-height:100vh}
h1{font-size:30px;line-height:1.2;margin:4px 0 8px;color:var(--navy)}
h2{font-size:20px;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--navy);color:var(--navy)}
h3{font-size:16px;margin:18px 0 6px}
code,pre{font:12.5px/1.45 ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace}
.eyebrow{margin:0;text-transform:uppercase;letter-spacing:.08em;font-size:12px;font-weight:600;color:var(--muted)}
.lede{margin:0 0 16px;max-width:720px;color:var(--muted)}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0;font-size:13px;
padding:12px 16px;background:var(--soft);border-radius:8px}
.meta dt{color:var(--muted)}.meta dd{margin:0;font-weight:600;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;font-size:13.5px}
th,td{text-align:left;padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.n{text-align:right;font-variant-numeric:tabular-nums}.nw{white-space:nowrap}
.box{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 12px;
white-space:pre-wrap;overflow-wrap:anywhere;margin:6px 0}
.hashes{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12.5px;margin:0}
.hashes dt{color:var(--muted)}.hashes dd{margin:0;overflow-wrap:anywhere}
.check{font-weight:600}.check.ok,.status.ok{color:var(--ok)}.check.bad,.status.bad{color:var(--bad)}
footer{margin-top:40px;padding-top:12px;border-top:1px solid var(--line);font-size:12px;color:var(--muted)}
@media print{body{background:#fff}main{padding:0}}
"#;

/// Recomputes every inclusion proof (RFC 9162 §2.1.3.2) against the checkpoint's root with
/// the browser's own SHA-256. Signatures are not checked here: that needs the verifier key
/// from the organisation.
const SCRIPT: &str = r#"
(async function () {
  const out = document.getElementById('browser-check');
  try {
    const cert = JSON.parse(document.getElementById('retention-certificate').textContent);
    const b64 = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
    const cat = (...a) => { const r = new Uint8Array(a.reduce((n, x) => n + x.length, 0)); let i = 0; for (const x of a) { r.set(x, i); i += x.length; } return r; };
    const sha = async d => new Uint8Array(await crypto.subtle.digest('SHA-256', d));
    const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
    const body = cert.checkpoint.split('\n');
    const root = b64(body[2]);
    const size = Number(body[1]);
    let good = 0;
    for (const e of cert.entries) {
      let r = await sha(cat(new Uint8Array([0]), new TextEncoder().encode(e.line)));
      let fn = e.leaf_index, sn = size - 1, ok = eq(r, b64(e.leaf_hash)) && fn < size;
      for (const p of e.inclusion_proof.map(b64)) {
        if (!ok || sn === 0) { ok = false; break; }
        if ((fn & 1) || fn === sn) {
          r = await sha(cat(new Uint8Array([1]), p, r));
          if (!(fn & 1)) { while (!(fn & 1) && fn !== 0) { fn >>= 1; sn >>= 1; } }
        } else {
          r = await sha(cat(new Uint8Array([1]), r, p));
        }
        fn >>= 1; sn >>= 1;
      }
      ok = ok && sn === 0 && eq(r, root);
      const s = document.querySelector('article[data-seq="' + e.seq + '"] .status');
      if (s) { s.textContent = ok ? '✓ included' : '✗ not included'; s.className = 'status ' + (ok ? 'ok' : 'bad'); }
      if (ok) good++;
    }
    const all = good === cert.entries.length;
    out.textContent = (all ? '✓ ' : '✗ ') + good + ' of ' + cert.entries.length +
      ' inclusion proofs check out against the checkpoint, computed in this browser. ' +
      'Check the checkpoint\'s and the entries\' signatures with the verifier key.';
    out.className = 'check ' + (all ? 'ok' : 'bad');
  } catch (err) {
    out.textContent = 'The proofs could not be checked in this browser (' + err + '); check them as described below.';
  }
})();
"#;
