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
