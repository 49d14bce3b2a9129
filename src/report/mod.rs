//! Renderings of plans and runs: text, json, md, html, csv.
