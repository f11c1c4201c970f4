//! Each command's effect on the server and what it prints.

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use crate::helpers::{ADMIN, get, ok, run_as, server};

#[tokio::test]
async fn a_progressive_rollout_from_the_terminal() {
    let s = server().await;
    let created = ok(
        &s,
        &[
            "flags",
            "create",
            "new-onboarding",
            "--enabled",
            "--markets",
            "fr,us",
            "--whitelist",
            "qa-1",
        ],
    )
    .await;
    assert!(
        created.stdout.contains("created new-onboarding (v1)"),
        "{}",
        created.stdout
    );
    let added = ok(&s, &["whitelist", "add", "new-onboarding", "qa-2", "qa-3"]).await;
    assert_eq!(
        added.stdout.trim(),
        "new-onboarding whitelist 1 users → 3 users (v1 → v2)"
    );
    for (version, (from, to)) in (2..).zip([(0, 5), (5, 25), (25, 50)]) {
        let out = ok(&s, &["rollout", "new-onboarding", &to.to_string()]).await;
        let expected = format!(
            "new-onboarding rollout {from}% → {to}% (v{version} → v{})",
            version + 1
        );
        let mut lines = out.stdout.lines();
        assert_eq!(lines.next(), Some(expected.as_str()));
        let fleet = format!(
            "verified: 1/1 instances and 0/0 SDKs serve v{}",
            version + 1
        );
        assert!(
            lines.next().is_some_and(|l| l.starts_with(&fleet)),
            "{}",
            out.stdout
        );
    }
    ok(&s, &["rollout", "new-onboarding", "100", "--yes"]).await;
    let again = ok(&s, &["rollout", "new-onboarding", "50"]).await;
    assert!(again.stdout.contains("100% → 50%"));
    let same = ok(&s, &["rollout", "new-onboarding", "50"]).await;
    assert!(same.stdout.contains("is already 50%"), "{}", same.stdout);
    // Lists take spaces and commas alike, as --whitelist a,b does.
    ok(&s, &["markets", "set", "new-onboarding", "fr,US", "UK"]).await;
    let flag = get(&s, "/v1/flags/new-onboarding").await;
    assert_eq!(flag["markets"], serde_json::json!(["FR", "UK", "US"]));
    ok(&s, &["markets", "clear", "new-onboarding"]).await;
    ok(&s, &["whitelist", "add", "new-onboarding", "qa-4,qa-5"]).await;
    ok(
        &s,
        &["whitelist", "remove", "new-onboarding", "qa-1,qa-4", "qa-5"],
    )
    .await;
    ok(&s, &["disable", "new-onboarding"]).await;
    let flag = get(&s, "/v1/flags/new-onboarding").await;
    assert_eq!(flag["rollout_percentage"], 50);
    assert_eq!(flag["markets"], serde_json::json!([]));
    assert_eq!(flag["whitelist"], serde_json::json!(["qa-2", "qa-3"]));
    assert_eq!(flag["enabled"], false);
    let listed = ok(&s, &["whitelist", "list", "new-onboarding"]).await;
    assert_eq!(listed.stdout, "qa-2\nqa-3\n");
    let eval = ok(&s, &["eval", "new-onboarding", "--user", "qa-2"]).await;
    assert_eq!(
        eval.stdout.trim(),
        format!(
            "new-onboarding for user qa-2: off (DISABLED, v{})",
            flag["version"]
        )
    );
}

#[tokio::test]
async fn json_prints_exactly_the_servers_objects() {
    let s = server().await;
    ok(&s, &["flags", "create", "f", "--rollout", "30"]).await;
    assert_eq!(
        ok(&s, &["flags", "get", "f", "--json"]).await.json(),
        get(&s, "/v1/flags/f").await
    );
    assert_eq!(
        ok(&s, &["flags", "list", "--json"]).await.json(),
        get(&s, "/v1/flags").await
    );
    let after = ok(&s, &["enable", "f", "--json"]).await.json();
    assert_eq!(after, get(&s, "/v1/flags/f").await);
    assert_eq!(
        ok(&s, &["history", "f", "--json"]).await.json(),
        get(&s, "/v1/flags/f/history").await
    );
    assert_eq!(
        ok(&s, &["audit", "--json"]).await.json(),
        get(&s, "/v1/audit?limit=20").await
    );
}

#[tokio::test]
async fn kill_verify_unkill() {
    let s = server().await;
    ok(
        &s,
        &[
            "flags",
            "create",
            "checkout",
            "--enabled",
            "--rollout",
            "100",
        ],
    )
    .await;
    let killed = ok(&s, &["kill", "checkout", "--reason", "5xx spike"]).await;
    assert!(
        killed.stdout.starts_with(
            "checkout kill switch off → ON (v1 → v2)\nverified: the server now answers checkout off for everyone (KILL_SWITCH)\nverified: 1/1 instances and 0/0 SDKs serve v2 (slowest "
        ),
        "{}",
        killed.stdout
    );
    let back = ok(&s, &["unkill", "checkout"]).await;
    assert!(
        back.stdout
            .contains("verified: the server no longer applies checkout's kill switch (its targeting decides: ROLLOUT)"),
        "{}",
        back.stdout
    );
    let global = ok(&s, &["kill", "--global", "--reason", "incident 7", "--yes"]).await;
    assert!(
        global.stdout.starts_with(
            "global kill switch off → ON (by env-admin, reason: incident 7)\nverified"
        ),
        "{}",
        global.stdout
    );
    assert!(
        global
            .stdout
            .contains("verified: 1/1 instances and 0/0 SDKs serve v"),
        "{}",
        global.stdout
    );
    let status = run_as(&s, Some(ADMIN), &["status"]).await;
    assert!(
        status.stdout.contains("KILL SWITCH ON") && status.stdout.contains("incident 7"),
        "{}",
        status.stdout
    );
    let lifted = ok(&s, &["unkill", "--global"]).await;
    assert!(
        lifted.stdout.contains("ON → off") && lifted.stdout.contains("verified"),
        "{}",
        lifted.stdout
    );
    let actions: Vec<String> = get(&s, "/v1/audit?flag=checkout").await["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["flag.unkill", "flag.kill", "flag.create"]);
}

#[tokio::test]
async fn history_rollback_export_import_eval_offline() {
    let s = server().await;
    ok(&s, &["flags", "create", "f", "--enabled", "--rollout", "5"]).await;
    ok(&s, &["rollout", "f", "50"]).await;
    let rolled = ok(&s, &["rollback", "f", "--to", "1", "--reason", "too fast"]).await;
    assert_eq!(
        rolled.stdout.trim(),
        "f rolled back to the content of v1: v2 → v3"
    );
    assert_eq!(get(&s, "/v1/flags/f").await["rollout_percentage"], 5);
    let history = ok(&s, &["history", "f"]).await;
    assert_eq!(
        history
            .stdout
            .lines()
            .filter(|l| l.starts_with('v'))
            .count(),
        3
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.json");
    let file = file.to_str().unwrap();
    let exported = ok(&s, &["export", file]).await;
    assert_eq!(
        exported.stdout.trim(),
        format!("exported 1 flags to {file}")
    );
    let offline = run_as(
        &s,
        None,
        &["eval", "f", "--offline", "--file", file, "--user", "x"],
    )
    .await;
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    assert!(
        offline.stdout.contains("[offline, from"),
        "{}",
        offline.stdout
    );

    ok(&s, &["flags", "create", "extra"]).await;
    let plan = ok(&s, &["import", file, "--dry-run"]).await;
    assert!(
        plan.stdout.contains("delete:    extra") && plan.stdout.contains("nothing written"),
        "{}",
        plan.stdout
    );
    let refused = run_as(&s, Some(ADMIN), &["import", file]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("without --yes"));
    assert_eq!(
        get(&s, "/v1/flags").await["flags"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing imported"
    );
    ok(&s, &["import", file, "--yes"]).await;
    assert_eq!(
        get(&s, "/v1/flags").await["flags"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The same backup again: nothing would change, so nothing is asked (no --yes needed).
    let again = ok(&s, &["import", file]).await;
    assert!(
        again.stdout.contains("nothing to import"),
        "{}",
        again.stdout
    );
}

#[tokio::test]
async fn tokens_and_profiles() {
    let s = server().await;
    let created = ok(
        &s,
        &[
            "tokens",
            "create",
            "oncall",
            "--role",
            "responder",
            "--json",
        ],
    )
    .await
    .json();
    let token = created["token"].as_str().unwrap().to_owned();
    let listed = ok(&s, &["tokens", "list"]).await;
    assert!(
        listed.stdout.contains("oncall")
            && listed.stdout.contains("responder")
            && !listed.stdout.contains(&token)
    );

    // A profile names the server and the token.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.prod]\nurl = \"{}\"\ntoken_env = \"PROD_TOKEN\"\n",
            s.base
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env_clear()
        .env("PROD_TOKEN", &token)
        .args([
            "--profile",
            "prod",
            "--config",
            config.to_str().unwrap(),
            "kill",
            "--global",
            "--reason",
            "r",
            "--yes",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("by oncall"));

    ok(&s, &["tokens", "revoke", created["id"].as_str().unwrap()]).await;
    let refused = run_as(&s, Some(&token), &["flags", "list"]).await;
    assert_eq!(refused.code, 3, "{}", refused.stderr);
}

#[tokio::test]
async fn audit_follow_prints_new_entries() {
    let s = server().await;
    ok(&s, &["flags", "create", "f"]).await;
    let mut follower = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env_clear()
        .env("SWITCHYARD_URL", &s.base)
        .env("SWITCHYARD_TOKEN", ADMIN)
        .args(["audit", "--flag", "f", "--follow"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    let header = lines.next_line().await.unwrap().unwrap();
    assert!(header.starts_with("ID"));
    assert!(
        lines
            .next_line()
            .await
            .unwrap()
            .unwrap()
            .contains("flag.create")
    );
    ok(&s, &["kill", "f", "--reason", "followed"]).await;
    let next = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a new entry")
        .unwrap()
        .unwrap();
    assert!(
        next.contains("flag.kill") && next.contains("followed"),
        "{next}"
    );
    follower.kill().await.unwrap();
}

#[tokio::test]
async fn completions_and_help() {
    let s = server().await;
    for shell in ["bash", "zsh", "fish"] {
        let out = run_as(&s, None, &["completions", shell]).await;
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.contains("switchyard") && out.stdout.contains("rollout"),
            "{shell}"
        );
    }
    let help = run_as(&s, None, &["--help"]).await;
    assert!(help.stdout.contains("Exit codes: 0 done") && help.stdout.contains("5 conflict"));
}
