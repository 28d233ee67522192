//! The repository's code, header, typings and docs stand alone: none of them cites a design
//! document kept outside the repository (its name, or its numbered sections as `§n`). They cite
//! `docs/PROTOCOL.md` by section name instead.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What counts as a reference to an outside document. Spelled in pieces so that this file does
/// not match itself.
fn references() -> [String; 3] {
    [
        ["DES", "IGN"].concat(),
        ["UPSTREAM", ".md"].concat(),
        "\u{a7}".to_owned(), // a section sign: the outside documents' numbered sections
    ]
}

/// Whether `line` holds `reference` as a word (so `DESIGNATED` or `designs` do not count) or,
/// for the section sign, followed by a digit.
fn cites(line: &str, reference: &str) -> bool {
    line.match_indices(reference).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + reference.len()..].chars().next();
        if reference == "\u{a7}" {
            return after.is_some_and(|c| c.is_ascii_digit() || c == ' ');
        }
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The repository's tracked files (`git ls-files`), or, outside a git checkout, every file
/// under the root except build output and dependencies.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output();
    if let Some(out) = listed.ok().filter(|o| o.status.success()) {
        return out
            .stdout
            .split(|&b| b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| root.join(String::from_utf8_lossy(name).as_ref()))
            .collect();
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            let name = entry.file_name();
            if entry.file_type().unwrap().is_dir() {
                if !matches!(name.to_str(), Some("target" | "node_modules" | ".git")) {
                    dirs.push(path);
                }
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn no_file_cites_an_outside_design_document() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = repository_files(root);
    assert!(
        files.iter().any(|f| f.ends_with("docs/PROTOCOL.md")),
        "the file list must cover docs/PROTOCOL.md: {} files",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        // Binary files (and files deleted but not yet committed) have no text to cite from.
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if references().iter().any(|reference| cites(line, reference)) {
                let shown = file.strip_prefix(root).unwrap_or(file).display();
                found.push(format!("{shown}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cite docs/PROTOCOL.md by section name instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_recognises_a_citation() {
    let [design, upstream, section] = references();
    assert!(cites(&format!("see {design} 3"), &design));
    assert!(cites(&format!("(docs: {design}.md)"), &design));
    assert!(cites(&format!("{design}'s rule"), &design));
    assert!(cites(&format!("shared/{upstream} s. 9"), &upstream));
    assert!(cites(&format!("the rule ({section}3B)"), &section));
    assert!(!cites(&format!("{design}ATED"), &design));
    assert!(!cites("the design review", &design));
    assert!(!cites(&format!("a lone {section}"), &section));
}
