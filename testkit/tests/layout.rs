//! The workspace's layout rules, checked on its own sources (docs/architecture.md):
//! no file under a crate's `src/` is longer than [`MAX_LINES`], and no two modules of a crate
//! import each other, directly or through others (a cycle at any level of the module tree).
//!
//! Run alone with `cargo test -p switchyard-testkit --test layout`; each failure names the
//! files and the lines that make it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The longest a source file may be (tests under `tests/` are not counted).
const MAX_LINES: usize = 600;

/// The crates whose `src/` is checked.
const CRATES: [&str; 6] = ["core", "server", "sdk", "admin-cli", "testkit", "benches"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("reading {}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a file below `src` (`server/src/store/redis/mod.rs` → `store::redis`);
/// binaries under `src/bin/` are crates of their own, named `bin:<name>`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("below src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    if parts.first().is_some_and(|p| p == "bin") {
        parts.remove(0);
        if let Some(first) = parts.first_mut() {
            *first = format!("bin:{first}");
        }
    }
    parts
}

/// The code of a file without comments, string literals and its `#[cfg(test)]` module (a
/// test may reach any sibling; the rule is about what the code itself depends on).
fn code(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") && line.starts_with('#') {
            break;
        }
        let mut out = String::new();
        let mut chars = line.chars().peekable();
        let mut in_str = false;
        while let Some(c) = chars.next() {
            if in_block {
                if c == '*' && chars.peek() == Some(&'/') {
                    chars.next();
                    in_block = false;
                }
                continue;
            }
            if in_str {
                if c == '\\' {
                    chars.next();
                } else if c == '"' {
                    in_str = false;
                }
                continue;
            }
            match c {
                '/' if chars.peek() == Some(&'/') => break,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    in_block = true;
                }
                '"' => in_str = true,
                _ => out.push(c),
            }
        }
        lines.push(out);
    }
    lines
}

/// The module paths a line names: `crate::a::b`, `super::c`, `self::d`, and the
/// members of a `use crate::{a, b::c}` group (one level of braces).
fn references(module: &[String], line: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes: Vec<char> = line.chars().collect();
    let text: String = bytes.iter().collect();
    for (start, _) in text.match_indices("crate::") {
        if start > 0 && (bytes[start - 1].is_alphanumeric() || bytes[start - 1] == '_') {
            continue;
        }
        let rest = &text[start + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for member in inner.split(',') {
                let path = path_words(member.trim());
                if !path.is_empty() {
                    found.push(path);
                }
            }
        } else {
            found.push(path_words(rest));
        }
    }
    // `super::x` names a sibling of this module (`self::x` only its own children).
    for (start, _) in text.match_indices("super::") {
        if start > 0 && (bytes[start - 1].is_alphanumeric() || bytes[start - 1] == '_') {
            continue;
        }
        let mut path = module[..module.len().saturating_sub(1)].to_vec();
        path.extend(path_words(&text[start + "super::".len()..]));
        found.push(path);
    }
    found
}

/// `a::b::C` → `["a", "b", "C"]`, up to the first character that is not part of a path.
fn path_words(s: &str) -> Vec<String> {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    s[..end]
        .split("::")
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One edge of the module graph: between two children of `parent`, with where it is made.
type Edges = BTreeMap<Vec<String>, BTreeMap<(String, String), String>>;

fn module_graph(src: &Path) -> Edges {
    let files = sources(src);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = Edges::new();
    for file in &files {
        let module = module_of(src, file);
        if module.first().is_some_and(|m| m.starts_with("bin:")) {
            continue;
        }
        let text = fs::read_to_string(file).expect("a source file");
        for (n, line) in code(&text).iter().enumerate() {
            for target in references(&module, line) {
                // The deepest module the path names.
                let mut target = target;
                while !target.is_empty() && !modules.contains(&target) {
                    target.pop();
                }
                let common = module
                    .iter()
                    .zip(&target)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common >= module.len() || common >= target.len() {
                    continue; // a module and its own parent or child
                }
                let parent = module[..common].to_vec();
                let from = module[common].clone();
                let to = target[common].clone();
                let at = format!(
                    "{}:{}",
                    file.strip_prefix(workspace()).unwrap_or(file).display(),
                    n + 1
                );
                edges
                    .entry(parent)
                    .or_default()
                    .entry((from, to))
                    .or_insert(at);
            }
        }
    }
    edges
}

/// The cycles among one parent's children: each as the modules on it, with the edges.
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for (a, b) in edges.keys() {
                if *a == n && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reaches[n].contains(*n) {
            continue;
        }
        let component: Vec<String> = nodes
            .iter()
            .filter(|m| reaches[n].contains(**m) && reaches[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        done.extend(component.iter().cloned());
        out.push(component);
    }
    out
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut long = Vec::new();
    let mut checked = 0;
    for krate in CRATES {
        for file in sources(&workspace().join(krate).join("src")) {
            checked += 1;
            let lines = fs::read_to_string(&file)
                .expect("a source file")
                .lines()
                .count();
            if lines > MAX_LINES {
                long.push(format!(
                    "{} has {lines} lines",
                    file.strip_prefix(workspace()).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} files found: is the workspace there?"
    );
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut found = Vec::new();
    let mut edge_count = 0;
    for krate in CRATES {
        for (parent, edges) in module_graph(&workspace().join(krate).join("src")) {
            edge_count += edges.len();
            for cycle in cycles(&edges) {
                let mut lines = vec![format!(
                    "{krate}: a cycle among {}: {}",
                    if parent.is_empty() {
                        "the crate's modules".to_owned()
                    } else {
                        format!("the modules of {}", parent.join("::"))
                    },
                    cycle.join(", ")
                )];
                for ((a, b), at) in &edges {
                    if cycle.contains(a) && cycle.contains(b) {
                        lines.push(format!("  {a} -> {b} ({at})"));
                    }
                }
                found.push(lines.join("\n"));
            }
        }
    }
    assert!(
        edge_count > 50,
        "only {edge_count} imports found: is the parser reading the sources?"
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The checker itself: a cycle it must find, and a chain it must not call one.
#[test]
fn the_cycle_check_finds_a_cycle_and_only_a_cycle() {
    let edges = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(a, b)| (((*a).to_owned(), (*b).to_owned()), String::new()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        cycles(&edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
    assert!(cycles(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    let module = vec!["store".to_owned(), "redis".to_owned()];
    assert_eq!(
        references(&module, "use crate::{state::AppState, fleet};"),
        vec![
            vec!["state".to_owned(), "AppState".to_owned()],
            vec!["fleet".to_owned()]
        ]
    );
    assert_eq!(
        references(&module, "use super::embedded::X;"),
        vec![vec![
            "store".to_owned(),
            "embedded".to_owned(),
            "X".to_owned()
        ]]
    );
    assert_eq!(
        code("let s = \"crate::x\"; // crate::y\nfoo"),
        vec!["let s = ; ", "foo"]
    );
}
