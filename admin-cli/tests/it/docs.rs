//! The README's and RUNBOOK.md's `switchyard …` commands are the real CLI: each one parses with
//! the binary's own clap definition, so the docs cannot drift from the tool.

use clap::Parser;
use switchyard_cli::cli::Cli;

/// Splits a shell line into words, honouring quotes; drops a trailing `# comment`.
fn words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut started) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '#') if !started => break,
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (_, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// Every `switchyard …` line inside the ```sh blocks of `text`.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut in_sh = false;
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if in_sh && line.starts_with("switchyard ") {
            found.push(words(line));
        }
    }
    found
}

#[test]
fn the_documented_commands_parse() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut checked = 0;
    for doc in ["README.md", "deploy/RUNBOOK.md"] {
        let text = std::fs::read_to_string(format!("{root}/{doc}")).unwrap();
        for args in commands(&text) {
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("{doc}: `{}` does not parse:\n{e}", args.join(" "));
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} documented commands found");
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(
        words(r#"switchyard kill f --reason "5xx spike"   # a comment"#),
        ["switchyard", "kill", "f", "--reason", "5xx spike"]
    );
    assert_eq!(
        words("switchyard audit --flag 'a b'"),
        ["switchyard", "audit", "--flag", "a b"]
    );
}

/// The `switchyard` lines of the ```sh block under `heading` in `text`, each with the output
/// lines shown after it (`#   …`).
fn block(text: &str, heading: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let mut steps: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut in_sh = false;
    for line in text[start..].lines() {
        let line = line.trim();
        if line.starts_with("```") {
            if in_sh {
                break;
            }
            in_sh = line == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if line.starts_with("switchyard ") {
            steps.push((words(line), Vec::new()));
        } else if let Some(shown) = line.strip_prefix("#   ")
            && let Some((_, expected)) = steps.last_mut()
        {
            expected.push(shown.trim().to_owned());
        }
    }
    steps
}

/// The README's CLI walk-throughs, run in order on a fresh `--demo` server as a reader
/// would: every command succeeds and prints the output the README shows under it (a line
/// ending in `…`: a line that begins so).
#[tokio::test]
async fn the_readme_cli_blocks_run_as_shown_on_a_demo_server() {
    let server = crate::helpers::demo_server().await;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let mut shown = 0;
    for heading in ["### Responding to an incident", "### A progressive rollout"] {
        for (args, expected) in block(&readme, heading) {
            // What asks for confirmation on a terminal is confirmed, as a reader would.
            let mut args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            args.push("--yes");
            let run = crate::helpers::ok(&server, &args).await;
            for line in &expected {
                // A shown line ending in "…" stands for every line it begins (timings).
                let matches = |out: &str| match line.strip_suffix('…') {
                    Some(start) => out.trim().starts_with(start),
                    None => out.trim() == line,
                };
                assert!(
                    run.stdout.lines().any(matches),
                    "`switchyard {}` printed:\n{}\nnot the README's line:\n{line}",
                    args.join(" "),
                    run.stdout
                );
                shown += 1;
            }
        }
    }
    assert!(shown >= 5, "only {shown} shown outputs were checked");
}
