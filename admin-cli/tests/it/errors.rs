//! Every error path: one plain line saying what to do, and the documented exit code.

use crate::helpers::{ADMIN, SDK, get, ok, run_as, server};

#[tokio::test]
async fn each_kind_of_failure_has_its_message_and_exit_code() {
    let s = server().await;
    ok(&s, &["flags", "create", "f", "--enabled"]).await;
    let issued = ok(
        &s,
        &["tokens", "create", "ro", "--role", "viewer", "--json"],
    )
    .await
    .json();
    let viewer_token = issued["token"].as_str().unwrap().to_owned();
    let cases: Vec<(Option<&str>, Vec<&str>, i32, &str)> = vec![
        (Some(ADMIN), vec!["flags", "get", "missing"], 4, "not found"),
        // A typo gets the nearest key.
        (
            Some(ADMIN),
            vec!["rollout", "fx", "5"],
            4,
            "did you mean f?",
        ),
        (Some(ADMIN), vec!["flags", "create", "f"], 5, "conflict"),
        (
            Some(ADMIN),
            vec!["markets", "set", "f", "x"],
            2,
            "invalid: markets[0]",
        ),
        (
            Some(ADMIN),
            vec!["flags", "get", "no/such"],
            2,
            "flag \"no/such\"",
        ),
        (Some(ADMIN), vec!["rollout", "f"], 2, "PERCENT"),
        (Some(ADMIN), vec!["kill", "f"], 2, "--reason"),
        (Some(ADMIN), vec!["eval", "f", "--offline"], 2, "--file"),
        (None, vec!["flags", "list"], 3, "no token"),
        (
            Some("wrong-token-xxxxxxxx"),
            vec!["flags", "list"],
            3,
            "unauthorized",
        ),
        (Some(SDK), vec!["flags", "list"], 3, "needs the viewer role"),
        (
            Some(viewer_token.as_str()),
            vec!["rollout", "f", "5"],
            3,
            "needs the editor role",
        ),
        (
            Some(viewer_token.as_str()),
            vec!["kill", "f", "--reason", "r"],
            3,
            "needs the responder role or higher, and the token has the viewer role",
        ),
        // kill reads the flag first (a viewer's right): the message still names kill's role.
        (
            Some(SDK),
            vec!["kill", "f", "--reason", "r"],
            3,
            "needs the responder role or higher, and the token has the sdk role",
        ),
        (
            Some(ADMIN),
            vec!["flags", "delete", "f"],
            1,
            "without --yes",
        ),
        (
            Some(ADMIN),
            vec!["kill", "--global", "--reason", "r"],
            1,
            "without --yes",
        ),
        (Some(ADMIN), vec!["rollout", "f", "100"], 1, "without --yes"),
        (
            Some(ADMIN),
            vec!["import", "/nonexistent.json"],
            2,
            "cannot read /nonexistent.json",
        ),
    ];
    for (token, args, code, says) in cases {
        let run = run_as(&s, token, &args).await;
        assert_eq!(run.code, code, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        if code != 2 || !run.stderr.contains("Usage") {
            assert_eq!(
                run.stderr.trim().lines().count(),
                1,
                "{args:?}: one line: {}",
                run.stderr
            );
        }
    }
    // None of the refused commands changed anything.
    let flag = get(&s, "/v1/flags/f").await;
    assert_eq!(
        (
            flag["version"].as_u64(),
            flag["rollout_percentage"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(get(&s, "/v1/kill-switch").await["active"], false);
}

#[tokio::test]
async fn network_and_url_errors() {
    let s = server().await;
    let bad_url = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env_clear()
        .args(["--url", "not a url", "status"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("is not a URL"));
    let port = switchyard_testkit::free_port();
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .env_clear()
        .env("SWITCHYARD_TOKEN", ADMIN)
        .args([
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "flags",
            "list",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is the server running?"));
    let _ = s;
}
