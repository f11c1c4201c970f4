//! deploy/ is checked, not just written: every YAML and JSON file parses, every metric the
//! alerts and the dashboard use is one the server exports, and every alert's runbook link
//! points at a section of RUNBOOK.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::helpers::SDK;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_yaml_and_json_file_parses() {
    let mut all = Vec::new();
    files(&deploy_dir(), &mut all);
    let mut checked = 0;
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                    serde_yaml_ng::Value::deserialize(doc)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                }
                checked += 1;
            }
            Some("json") => {
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(
        checked >= 14,
        "only {checked} manifests found under deploy/"
    );
}

/// Every `switchyard_…` name in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("switchyard_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn the_alerts_and_dashboard_use_only_exported_metrics() {
    let silent = switchyard_testkit::http::Silent::start();
    let dead = silent.url();
    let app = crate::helpers::spawn_with(move |s| {
        s.plans.tick_ms = 50;
        s.guards.prometheus_url = Some(dead);
        s.guards.query_timeout_ms = 100;
    })
    .await;
    // Labelled series appear once used: evaluate, make a request of every kind, and run a
    // guarded plan for a tick or two.
    app.create("f", json!({"enabled": true})).await;
    crate::plans::start(
        &app,
        "f",
        json!({"stages": [{"rollout_percentage": 5, "hold": "1h"}],
               "guards": [{"name": "g", "prometheus": {"query": "up", "above": 1}}]}),
    )
    .await;
    crate::redis::eventually("a guard read", || async {
        app.metrics().await.contains("switchyard_guard_value{")
    })
    .await;
    app.call(
        Method::POST,
        "/v1/evaluate",
        Some(SDK),
        Some(json!({"flag": "f"})),
    )
    .await;
    let exposition = app.metrics().await;
    let exported: BTreeSet<String> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let deploy = deploy_dir();
    for file in ["prometheus/alerts.yaml", "grafana/dashboard.json"] {
        let used = metric_names(&std::fs::read_to_string(deploy.join(file)).unwrap());
        assert!(!used.is_empty(), "{file} uses no metric");
        let missing: Vec<&String> = used.iter().filter(|m| !exported.contains(*m)).collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics the server does not export: {missing:?}"
        );
    }
}

#[test]
fn every_alert_links_a_runbook_section() {
    let deploy = deploy_dir();
    let alerts: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(deploy.join("prometheus/alerts.yaml")).unwrap(),
    )
    .unwrap();
    let runbook = std::fs::read_to_string(deploy.join("RUNBOOK.md")).unwrap();
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| {
            l.trim_start_matches('#')
                .strip_prefix(' ')
                .filter(|_| l.starts_with('#'))
        })
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .collect::<String>()
                .replace(' ', "-")
        })
        .collect();
    let rules = alerts["groups"][0]["rules"].as_sequence().unwrap();
    assert!(rules.len() >= 6);
    for rule in rules {
        let name = rule["alert"].as_str().unwrap();
        let annotations = &rule["annotations"];
        assert!(
            annotations["summary"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{name} has no summary"
        );
        let link = annotations["runbook_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no runbook_url"));
        let anchor = link
            .split('#')
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: {link} has no #section"));
        assert!(
            anchors.contains(anchor),
            "{name} links #{anchor}, not a RUNBOOK.md section ({anchors:?})"
        );
    }
}
