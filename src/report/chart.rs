//! The small inline-SVG chart of each category in the HTML report: for every target a
//! bar of its records split into what a run would change, what is held, what is locked
//! and what is kept; below, the oldest matched record of each target placed on an age
//! axis against the retention period. Plain SVG, no script, so it prints and renders
//! with the network off.

use super::html::esc;
use super::view::{age, count, CategoryView, Status};
use chrono::{DateTime, Utc};
use std::fmt::Write;

const WIDTH: f64 = 920.0;
/// Where the bars start, after the target labels.
const BAR_X: f64 = 210.0;
const BAR_W: f64 = 480.0;
const ROW: f64 = 26.0;
const CHANGE: &str = "#2f6fde";
const REFUSED: &str = "#b42318";
const HELD: &str = "#e09f1f";
const LOCKED: &str = "#7b8794";
const KEPT: &str = "#e4e7eb";
const MUTED: &str = "#616e7c";
const INK: &str = "#1f2933";

/// The chart of one category.
pub fn category(c: &CategoryView<'_>, as_of: Option<DateTime<Utc>>) -> String {
    let mut svg = String::new();
    let mut y = 14.0;
    caption(&mut svg, y, "Records per target, by what a run would do");
    y += 12.0;
    let mut refused = false;
    for t in &c.targets {
        let matched = t.matched();
        let rest = t.total.saturating_sub(matched + t.held + t.locked);
        let change_colour = if t.status == Status::Ok {
            CHANGE
        } else {
            refused = true;
            REFUSED
        };
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"{INK}\">{}</text>",
            BAR_X - 8.0,
            y + 11.0,
            esc(&truncate(&format!("{}/{}", t.store, t.target), 30))
        );
        let _ = write!(
            svg,
            "<rect x=\"{BAR_X:.0}\" y=\"{y:.1}\" width=\"{BAR_W:.0}\" height=\"14\" rx=\"3\" fill=\"{KEPT}\"/>"
        );
        let total = t.total.max(matched + t.held + t.locked);
        let mut x = BAR_X;
        for (n, colour) in [
            (matched, change_colour),
            (t.held, HELD),
            (t.locked, LOCKED),
            (rest, KEPT),
        ] {
            if n == 0 || total == 0 {
                continue;
            }
            // A sliver stays visible: one record in a million must still show.
            let w = (n as f64 / total as f64 * BAR_W)
                .max(2.0)
                .min(BAR_X + BAR_W - x);
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"14\" fill=\"{colour}\"/>"
            );
            x += w;
        }
        let share = if total == 0 {
            "empty".to_owned()
        } else {
            format!(
                "{} of {} · {}",
                count(matched),
                count(total),
                percent(matched, total)
            )
        };
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" font-size=\"12\" fill=\"{INK}\">{}</text>",
            BAR_X + BAR_W + 10.0,
            y + 11.0,
            esc(&share)
        );
        y += ROW;
    }
    if let (Some(period), Some(as_of)) = (c.period, as_of) {
        let ages: Vec<(String, f64)> = c
            .targets
            .iter()
            .filter_map(|t| {
                t.oldest
                    .map(|o| (t.target.to_owned(), (as_of - o).num_seconds() as f64))
            })
            .collect();
        if !ages.is_empty() {
            y = age_axis(
                &mut svg,
                y + 8.0,
                period.num_seconds() as f64,
                c.retain,
                &ages,
            );
        }
    }
    y = legend(&mut svg, y + 6.0, refused);
    let label = format!(
        "Chart of category {}: {} of {} records would change",
        c.name,
        count(c.to_change()),
        count(c.records())
    );
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH:.0} {y:.0}\" width=\"{WIDTH:.0}\" height=\"{y:.0}\" \
         role=\"img\" aria-label=\"{0}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{0}</title>{svg}</svg>",
        esc(&label)
    )
}

/// The age axis: from now (left) to beyond the oldest record, the expired zone past the
/// retention period shaded, one dot per target's oldest matched record. Returns the
/// height used.
fn age_axis(svg: &mut String, top: f64, period: f64, retain: &str, ages: &[(String, f64)]) -> f64 {
    caption(
        svg,
        top + 10.0,
        "Oldest matched record against the retention period",
    );
    let oldest = ages.iter().map(|(_, a)| *a).fold(0.0_f64, f64::max);
    let span = (period.max(oldest) * 1.15).max(1.0);
    let x = |secs: f64| BAR_X + (secs.clamp(0.0, span) / span) * BAR_W;
    let axis_y = top + 40.0;
    let px = x(period);
    let _ = write!(
        svg,
        "<rect x=\"{px:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"20\" fill=\"#fdecea\"/>",
        axis_y - 10.0,
        BAR_X + BAR_W - px
    );
    let _ = write!(
        svg,
        "<line x1=\"{BAR_X:.0}\" y1=\"{axis_y:.1}\" x2=\"{:.0}\" y2=\"{axis_y:.1}\" stroke=\"{MUTED}\" stroke-width=\"1\"/>",
        BAR_X + BAR_W
    );
    let _ = write!(
        svg,
        "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{REFUSED}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>",
        axis_y - 16.0,
        axis_y + 12.0
    );
    let _ = write!(
        svg,
        "<text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{REFUSED}\">retention {}</text>",
        axis_y - 19.0,
        esc(retain)
    );
    let _ = write!(
        svg,
        "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"{MUTED}\">record age</text>",
        BAR_X - 8.0,
        axis_y + 4.0
    );
    let _ = write!(
        svg,
        "<text x=\"{BAR_X:.0}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\">0</text>",
        axis_y + 24.0
    );
    for (target, secs) in ages {
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{axis_y:.1}\" r=\"5\" fill=\"{CHANGE}\" stroke=\"#fff\" stroke-width=\"1.5\"><title>{}: {}</title></circle>",
            x(*secs),
            esc(target),
            esc(&age(chrono::Duration::seconds(*secs as i64)))
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"{INK}\">oldest {}</text>",
        BAR_X + BAR_W,
        axis_y + 24.0,
        esc(&age(chrono::Duration::seconds(oldest as i64)))
    );
    axis_y + 30.0
}

fn legend(svg: &mut String, top: f64, refused: bool) -> f64 {
    let mut items = vec![
        (CHANGE, "would be changed"),
        (HELD, "held"),
        (LOCKED, "locked or referenced"),
        (KEPT, "kept"),
    ];
    if refused {
        items.insert(1, (REFUSED, "matched, refused by the guard"));
    }
    let mut x = BAR_X;
    for (colour, text) in items {
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" rx=\"2\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\">{text}</text>",
            top + 2.0,
            x + 14.0,
            top + 11.0
        );
        // System fonts differ; 6.2 px per character at 11 px leaves room on every one.
        x += 14.0 + text.len() as f64 * 6.2 + 16.0;
    }
    top + 18.0
}

fn caption(svg: &mut String, y: f64, text: &str) {
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"{y:.1}\" font-size=\"11\" font-weight=\"600\" fill=\"{MUTED}\" letter-spacing=\".04em\">{}</text>",
        esc(&text.to_uppercase())
    );
}

fn percent(n: u64, total: u64) -> String {
    let p = n as f64 / total as f64 * 100.0;
    if n > 0 && p < 0.1 {
        "<0.1%".to_owned()
    } else {
        format!("{p:.1}%")
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let head: String = s.chars().take(max - 1).collect();
        format!("{head}…")
    }
}
