//! Printing: aligned tables for lists, one-line `before → after` summaries for changes, or,
//! with `--json`, exactly the server's objects.

use serde_json::Value;

/// How to print.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Print the server's JSON instead of text.
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON (with `--json`) or `text()` otherwise.
    pub fn print(&self, value: &Value, text: impl FnOnce() -> String) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        } else {
            let text = text();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
}

/// Columns aligned to their widest cell, headers first.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

/// A JSON value as a short cell: strings bare, lists comma-joined, null as `-`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `on`/`off`.
pub fn on_off(value: &Value) -> &'static str {
    if value.as_bool().unwrap_or(false) {
        "on"
    } else {
        "off"
    }
}

/// `KEY FIELD before → after (vN → vM)`.
pub fn change(
    key: &str,
    field: &str,
    before: &str,
    after: &str,
    flag_before: &Value,
    flag_after: &Value,
) -> String {
    format!(
        "{key} {field} {before} → {after} (v{} → v{})",
        flag_before["version"], flag_after["version"]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aligns_columns() {
        let t = table(
            &["KEY", "ON"],
            &[
                vec!["a-long-key".into(), "on".into()],
                vec!["b".into(), "off".into()],
            ],
        );
        assert_eq!(t, "KEY         ON\na-long-key  on\nb           off");
    }

    #[test]
    fn cells_and_changes() {
        assert_eq!(cell(&json!(["FR", "US"])), "FR,US");
        assert_eq!(cell(&json!([])), "-");
        let (a, b) = (json!({"version": 7}), json!({"version": 8}));
        assert_eq!(
            change("f", "rollout", "5%", "25%", &a, &b),
            "f rollout 5% → 25% (v7 → v8)"
        );
    }
}
