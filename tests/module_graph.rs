//! The core's modules form a DAG: no module uses one that uses it back (directly or through
//! others), and its folders are layers: each imports only the folders below it in [`LAYERS`].
//! Read from the sources: every `crate::…`, `super::…` and `self::…` path, and in a module with
//! children, every use of a child by its name. Checked twice: between the crate's
//! top-level modules (a directory is one module), and between files, where a child's use of
//! its own ancestors (the namespace it lives in) does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `src/`'s folders, bottom to top (as `src/lib.rs` lists them). A new folder must be placed here.
const LAYERS: [&str; 11] = [
    "base", "sys", "rules", "vocab", "files", "held", "attempt", "service", "api", "sidecar",
    "dir_lock",
];

/// `src/a/b.rs` and `src/a/b/mod.rs` → `a::b`; `None` for the crate root and binaries.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.first().map(String::as_str) {
        None | Some("lib") | Some("main") | Some("bin") => None,
        _ => Some(parts.join("::")),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments (string contents are kept: a path inside one is rare and
/// would only add an edge, never hide one).
fn strip_comments(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The path segments starting at byte `at`: `a::b::{c, d}` gives `[a, b]`.
fn segments(code: &str, at: usize) -> Vec<&str> {
    let mut segs = Vec::new();
    let mut rest = &code[at..];
    loop {
        let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        segs.push(&rest[..len]);
        match rest[len..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    segs
}

/// The modules a file's code names, resolved to the longest known module path.
fn references(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let here: Vec<&str> = module.split("::").collect();
    // A child named on its own (`mod x;` … `x::Item`, `use x as y`).
    let children: Vec<&str> = known
        .iter()
        .filter_map(|m| m.strip_prefix(module)?.strip_prefix("::"))
        .filter(|rest| !rest.contains("::"))
        .collect();
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    for (at, _) in code.char_indices() {
        if at > 0 && (is_ident(bytes[at - 1] as char) || code[..at].ends_with("::")) {
            continue; // inside a word or a longer path
        }
        let segs = segments(code, at);
        let Some(&first) = segs.first() else { continue };
        let mut base: Vec<&str> = match first {
            "crate" => Vec::new(),
            "self" => here.clone(),
            "super" => here.clone(),
            // A word that is also a child's name counts only as a path or a `use … as`.
            child
                if children.contains(&child)
                    && (segs.len() > 1 || code[at + child.len()..].starts_with(" as ")) =>
            {
                here.clone()
            }
            _ => continue,
        };
        let mut rest = &segs[..];
        if first == "crate" || first == "self" {
            rest = &segs[1..];
        }
        while let Some(("super", more)) = rest.split_first().map(|(s, m)| (*s, m)) {
            base.pop();
            rest = more;
        }
        let mut target = None;
        let mut path = base.clone();
        if !path.is_empty() && known.contains(&path.join("::")) {
            target = Some(path.join("::"));
        }
        for seg in rest {
            path.push(seg);
            let joined = path.join("::");
            if known.contains(&joined) {
                target = Some(joined);
            }
        }
        if let Some(target) = target.filter(|t| t != module) {
            found.insert(target);
        }
    }
    found
}

fn graph_of(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter_map(|f| Some((module_of(src, &f)?, f)))
        .collect();
    let known: BTreeSet<String> = modules.iter().map(|(m, _)| m.clone()).collect();
    modules
        .iter()
        .map(|(module, file)| {
            let code = strip_comments(&std::fs::read_to_string(file).unwrap());
            (module.clone(), references(module, &code, &known))
        })
        .collect()
}

/// Between files: a module's use of its ancestors is its namespace, not a dependency.
fn file_graph(graph: &Graph) -> Graph {
    graph
        .iter()
        .map(|(m, to)| {
            let kept = to
                .iter()
                .filter(|t| !m.starts_with(&format!("{t}::")))
                .cloned()
                .collect();
            (m.clone(), kept)
        })
        .collect()
}

/// Between top-level modules.
fn top_graph(graph: &Graph) -> Graph {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_owned();
    let mut out = Graph::new();
    for (m, to) in graph {
        let entry = out.entry(top(m)).or_default();
        entry.extend(to.iter().map(|t| top(t)).filter(|t| *t != top(m)));
    }
    out
}

/// A cycle, as the modules along it (first repeated at the end), if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut done, &mut Vec::new()))
}

fn describe(graph: &Graph) -> String {
    graph
        .iter()
        .map(|(m, to)| {
            format!(
                "  {m} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_core_modules_form_a_dag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&src);
    assert!(
        graph.len() > 20 && graph["api::acquire"].contains("attempt::take"),
        "the sources were not read as expected:\n{}",
        describe(&graph)
    );
    for (what, g) in [
        ("top-level modules", top_graph(&graph)),
        ("files", file_graph(&graph)),
    ] {
        if let Some(cycle) = find_cycle(&g) {
            panic!(
                "a cycle between {what}: {}\n{}",
                cycle.join(" -> "),
                describe(&g)
            );
        }
    }
    println!("{}", describe(&top_graph(&graph)));
}

/// The bindings' files too: no circle through the panic boundary, the status or the strings.
#[test]
fn the_bindings_modules_form_a_dag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for crate_src in ["bindings/c/src", "bindings/node/src"] {
        let graph = file_graph(&graph_of(&root.join(crate_src)));
        assert!(
            graph.len() > 5,
            "{crate_src} was not read:\n{}",
            describe(&graph)
        );
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "a cycle in {crate_src}: {}\n{}",
                cycle.join(" -> "),
                describe(&graph)
            );
        }
    }
}

/// Edges between top-level modules that go up or sideways in `layers` (or leave it).
fn layer_violations(top: &Graph, layers: &[&str]) -> Vec<String> {
    let rank = |m: &str| layers.iter().position(|l| *l == m);
    let mut out = Vec::new();
    for (from, to) in top {
        for target in to {
            match (rank(from), rank(target)) {
                (Some(f), Some(t)) if t < f => {}
                (None, _) => out.push(format!("{from} is not a layer")),
                _ => out.push(format!("{from} -> {target} does not go down")),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn folders_are_layers_and_import_only_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let top = top_graph(&graph_of(&src));
    let violations = layer_violations(&top, &LAYERS);
    assert!(
        violations.is_empty(),
        "{}\n{}",
        violations.join("\n"),
        describe(&top)
    );
    // `ls src/` shows the layers: folders, and no loose module beside the crate root.
    let mut loose: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "lib.rs"))
        .map(|p| p.display().to_string())
        .collect();
    loose.sort();
    assert!(
        loose.is_empty(),
        "modules outside a layer folder: {loose:?}"
    );
    let folders: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .filter(|n| n != "bin")
        .collect();
    let listed: BTreeSet<String> = LAYERS.iter().map(|l| l.to_string()).collect();
    assert_eq!(folders, listed, "every folder of src/ is a layer in LAYERS");
}

/// The layering check sees an upward edge, a sideways one and an unplaced module.
#[test]
fn the_layer_check_sees_upward_edges() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    let layers = ["low", "mid", "high"];
    assert!(layer_violations(&graph(&[("high", "low"), ("mid", "low")]), &layers).is_empty());
    assert_eq!(
        layer_violations(&graph(&[("low", "mid")]), &layers),
        ["low -> mid does not go down"]
    );
    assert_eq!(
        layer_violations(&graph(&[("mid", "mid2")]), &layers),
        ["mid -> mid2 does not go down"]
    );
    assert_eq!(
        layer_violations(&graph(&[("stray", "low")]), &layers),
        ["stray is not a layer"]
    );
}

/// The checker itself finds a cycle (through a child's `super::`, a relative child path and
/// `crate::`) and none once it is broken.
#[test]
fn the_checker_sees_cycles() {
    let dir = std::env::temp_dir().join(format!("swl-module-graph-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("svc")).unwrap();
    let write = |name: &str, code: &str| std::fs::write(src.join(name), code).unwrap();
    write("lib.rs", "mod a; mod b; mod svc;");
    write("a.rs", "use crate::b::Thing; // crate::svc in a comment\n");
    write("b.rs", "pub fn f() { crate::svc::run(); }");
    write(
        "svc/mod.rs",
        "mod inbox; mod lp;\npub fn run() { lp::go() }",
    );
    write("svc/lp.rs", "use super::inbox::Inbox; use crate::a::X;");
    write("svc/inbox.rs", "/* super::lp */ pub struct Inbox;");
    let graph = graph_of(&src);
    assert_eq!(
        graph["svc::lp"],
        ["a", "svc::inbox"].map(String::from).into()
    );
    assert_eq!(graph["svc::inbox"], BTreeSet::new());
    let cycle = find_cycle(&top_graph(&graph)).expect("a -> b -> svc -> a");
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    assert!(find_cycle(&file_graph(&graph)).is_some());

    // A child using its parent's items is no cycle between files; siblings using each other are.
    write("a.rs", "pub struct X;");
    write("svc/inbox.rs", "use super::run; pub struct Inbox;");
    let graph = graph_of(&src);
    assert_eq!(find_cycle(&top_graph(&graph)), None);
    assert_eq!(find_cycle(&file_graph(&graph)), None);
    write("svc/inbox.rs", "use super::lp::go; pub struct Inbox;");
    let cycle = find_cycle(&file_graph(&graph_of(&src))).expect("svc::lp <-> svc::inbox");
    assert!(cycle.contains(&"svc::inbox".to_string()), "{cycle:?}");
    std::fs::remove_dir_all(dir).unwrap();
}
