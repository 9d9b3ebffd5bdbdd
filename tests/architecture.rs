//! The map is kept honest (ARCHITECTURE.md): no import circle between `src/` files, every path
//! the map names exists, and every `src/` module is on the map.
//!
//! Imports are read from the code as text: `crate::`, `super::`, `self::`, `sheetbridge::` paths
//! (grouped `use` trees included) and paths through a file's own child modules, outside
//! comments, strings and test-only code. A child may use its ancestors (a module and its
//! children are one room); every other arrow must point one way. Until issue 21 pays it, today's
//! circle and the modules the map does not name yet are listed as debt: the lists may shrink,
//! never grow.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One source file: its path relative to the repository, the crate it belongs to (`lib` or
/// `bin`) and its module path in that crate.
#[derive(Debug, Clone)]
struct File {
    rel: String,
    krate: &'static str,
    module: Vec<String>,
    text: String,
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The text with comments, string and char literals blanked (their length kept, so braces
/// still match).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(if b[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string: r"...", r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(if ch == '\n' { '\n' } else { ' ' });
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                let step = if b[i] == '\\' { 2 } else { 1 };
                for &ch in &b[i..(i + step).min(b.len())] {
                    out.push(if ch == '\n' { '\n' } else { ' ' });
                }
                i += step;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The code without its test-only items (`#[cfg(test)]` modules, functions and uses), and the
/// names of child modules declared test-only (`#[cfg(test)] mod props;`).
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut out = code.to_owned();
    let mut test_children = Vec::new();
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at + "#[cfg(test)]".len()..];
        let item = rest.trim_start();
        let start = out.len() - item.len();
        // The item ends at its first `;` outside braces, or at the brace closing its body.
        let bytes = item.as_bytes();
        let mut depth = 0usize;
        let mut end = item.len();
        for (k, &ch) in bytes.iter().enumerate() {
            match ch {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                b';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        let decl = &item[..end];
        if let Some(name) = decl
            .strip_prefix("mod ")
            .or_else(|| decl.strip_prefix("pub mod "))
            .and_then(|d| d.strip_suffix(';'))
        {
            test_children.push(name.trim().to_owned());
        }
        out.replace_range(at..start + end, &" ".repeat(start + end - at));
    }
    (out, test_children)
}

fn load_files() -> Vec<File> {
    let src = repo().join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    let main_text = std::fs::read_to_string(src.join("main.rs")).unwrap();
    let (main_code, _) = without_tests(&code_only(&main_text));
    let bin_mods: BTreeSet<String> = regex::Regex::new(r"(?m)^\s*(?:pub\s+)?mod\s+(\w+)\s*;")
        .unwrap()
        .captures_iter(&main_code)
        .map(|c| c[1].to_owned())
        .collect();
    let mut files = Vec::new();
    for p in paths {
        let rel_src = p.strip_prefix(&src).unwrap();
        let mut module: Vec<String> = rel_src
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        let krate = if module == ["main"] || module.first().is_some_and(|m| bin_mods.contains(m)) {
            "bin"
        } else {
            "lib"
        };
        if module == ["main"] || module == ["lib"] {
            module.clear();
        }
        let text = std::fs::read_to_string(&p).unwrap();
        files.push(File {
            rel: format!("src/{}", rel_src.to_string_lossy().replace('\\', "/")),
            krate,
            module,
            text,
        });
    }
    // Files declared test-only by their parent are not part of the program.
    let mut test_only = BTreeSet::new();
    for f in &files {
        let (_, children) = without_tests(&code_only(&f.text));
        for c in children {
            let mut m = f.module.clone();
            m.push(c);
            test_only.insert((f.krate, m));
        }
    }
    files.retain(|f| !test_only.contains(&(f.krate, f.module.clone())));
    files
}

/// Every path a `use` tree or an expression names after `prefix::` (`a::b`, `a::{b, c::d}`).
fn use_paths(code: &str, start: usize, base: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let b = code.as_bytes();
    let mut i = start;
    let mut path = base;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            i += 1;
            loop {
                i = use_paths(code, i, path.clone(), out);
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => return i + 1,
                    _ => return i,
                }
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if b.get(i) == Some(&b'}') {
                    return i + 1;
                }
            }
        }
        let from = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        if i == from {
            out.push(path);
            return i;
        }
        let seg = &code[from..i];
        if seg != "self" {
            path.push(seg.to_owned());
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if code[j..].starts_with("::") {
            i = j + 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// The module paths (absolute in the file's crate, or in the library for `sheetbridge::`) that a
/// file refers to.
fn references(f: &File) -> Vec<(&'static str, Vec<String>)> {
    let (code, _) = without_tests(&code_only(&f.text));
    let children: BTreeSet<String> =
        regex::Regex::new(r"(?m)^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
            .unwrap()
            .captures_iter(&code)
            .map(|c| c[1].to_owned())
            .collect();
    let start =
        regex::Regex::new(r"\b(crate|super|self|sheetbridge|[a-z_][a-z0-9_]*)\s*::").unwrap();
    let mut found = Vec::new();
    for m in start.captures_iter(&code) {
        let whole = m.get(0).unwrap();
        // Only the start of a path: `a::b::c` is read once, from `a`.
        let before = code[..whole.start()].trim_end();
        if before.ends_with("::") {
            continue;
        }
        let head = &m[1];
        let (krate, base): (&'static str, Vec<String>) = match head {
            "crate" => (f.krate, Vec::new()),
            "sheetbridge" => ("lib", Vec::new()),
            "super" => {
                let mut b = f.module.clone();
                b.pop();
                (f.krate, b)
            }
            "self" => (f.krate, f.module.clone()),
            child if children.contains(child) => {
                let mut b = f.module.clone();
                b.push(child.to_owned());
                let mut paths = Vec::new();
                use_paths(&code, whole.end(), b, &mut paths);
                found.extend(paths.into_iter().map(|p| (f.krate, p)));
                continue;
            }
            _ => continue,
        };
        let mut paths = Vec::new();
        use_paths(&code, whole.end(), base, &mut paths);
        // `super::super::x`
        for mut p in paths {
            let mut k = 0;
            let mut q = Vec::new();
            while k < p.len() {
                if p[k] == "super" {
                    q.pop();
                } else {
                    q.push(std::mem::take(&mut p[k]));
                }
                k += 1;
            }
            found.push((krate, q));
        }
    }
    found
}

/// The import arrows between files (file -> files it uses), leaving out a child's arrows to its
/// own ancestors.
fn arrows(files: &[File]) -> BTreeMap<String, BTreeSet<String>> {
    let by_module: BTreeMap<(&str, Vec<String>), &str> = files
        .iter()
        .map(|f| ((f.krate, f.module.clone()), f.rel.as_str()))
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let to = graph.entry(f.rel.clone()).or_default();
        for (krate, path) in references(f) {
            // The longest prefix of the path that is a file.
            let Some(target) = (0..=path.len())
                .rev()
                .find_map(|n| by_module.get(&(krate, path[..n].to_vec())))
            else {
                continue;
            };
            let target_module = &files.iter().find(|g| g.rel == *target).unwrap().module;
            let is_ancestor = krate == f.krate
                && target_module.len() <= f.module.len()
                && f.module[..target_module.len()] == target_module[..];
            if !is_ancestor {
                to.insert((*target).to_owned());
            }
        }
    }
    graph
}

/// The strongly connected parts with more than one file (Tarjan's algorithm).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut part = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                part.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if part.len() > 1 {
                part.sort();
                s.out.push(part);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Files allowed in an import circle: none since issue 21 (it stays a list so the ratchet reads
/// the same as the map's).
const CIRCLE_DEBT: &[&str] = &[];

/// Modules the map does not name: none since issue 21 (the same ratchet).
const UNNAMED_DEBT: &[&str] = &[];

/// `found` holds nothing outside `debt`, and `debt` nothing that is no longer found.
#[track_caller]
fn ratchet(what: &str, found: &BTreeSet<String>, debt: &[&str], detail: &str) {
    let debt: BTreeSet<String> = debt.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = found.difference(&debt).collect();
    let paid: Vec<&String> = debt.difference(found).collect();
    assert!(new.is_empty(), "{what}, new: {new:?}\n{detail}");
    assert!(
        paid.is_empty(),
        "{what}: paid, take them off the debt list: {paid:?}"
    );
}

#[test]
fn no_import_circle_between_src_files() {
    let files = load_files();
    let graph = arrows(&files);
    let found = circles(&graph);
    let mut report = String::new();
    for part in &found {
        report.push_str(&format!("circle of {} files:\n", part.len()));
        for a in part {
            for b in &graph[a] {
                if part.contains(b) {
                    report.push_str(&format!("  {a} -> {b}\n"));
                }
            }
        }
    }
    let in_circles: BTreeSet<String> = found.iter().flatten().cloned().collect();
    ratchet(
        "files in an import circle",
        &in_circles,
        CIRCLE_DEBT,
        &report,
    );
    assert!(found.len() <= 1, "imports must point one way:\n{report}");
}

#[test]
fn the_cycle_check_sees_a_circle_it_is_shown() {
    // The check itself: two files that use each other (through a grouped use, `super::` and a
    // bare child path) are a circle; a comment, a string or a test module naming the other file
    // is not an arrow.
    let file = |rel: &str, module: &[&str], text: &str| File {
        rel: rel.to_owned(),
        krate: "lib",
        module: module.iter().map(|s| s.to_string()).collect(),
        text: text.to_owned(),
    };
    let files = vec![
        file(
            "src/a.rs",
            &["a"],
            "use crate::{b::{self, B}, c};\nfn f() {}",
        ),
        file(
            "src/b.rs",
            &["b"],
            "mod inner;\n// crate::c::X\nconst S: &str = \"crate::c::X\";\nfn f() { inner::go() }",
        ),
        file(
            "src/b/inner.rs",
            &["b", "inner"],
            "use super::super::a::A;\nuse super::B;",
        ),
        file(
            "src/c.rs",
            &["c"],
            "pub struct C;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        ),
    ];
    let graph = arrows(&files);
    assert_eq!(
        graph["src/b/inner.rs"],
        BTreeSet::from(["src/a.rs".to_owned()])
    );
    assert_eq!(
        graph["src/b.rs"],
        BTreeSet::from(["src/b/inner.rs".to_owned()])
    );
    assert!(graph["src/c.rs"].is_empty(), "{graph:?}");
    assert_eq!(
        circles(&graph),
        vec![vec![
            "src/a.rs".to_owned(),
            "src/b.rs".to_owned(),
            "src/b/inner.rs".to_owned()
        ]]
    );
}

/// The map's text.
fn map() -> String {
    std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap()
}

#[test]
fn every_path_on_the_map_exists() {
    let text = map();
    let path = regex::Regex::new(
        r"\b(?:src|tests|benches|examples|assets|mappings|\.ci)/[A-Za-z0-9_./\-]*",
    )
    .unwrap();
    let mut missing = Vec::new();
    for m in path.find_iter(&text) {
        let p = m.as_str().trim_end_matches(['.', ',']);
        if !repo().join(p).exists() {
            missing.push(p.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn every_src_module_is_on_the_map() {
    let text = map();
    let files = load_files();
    let stems: Vec<String> = files
        .iter()
        .map(|f| f.rel.rsplit('/').next().unwrap().to_owned())
        .collect();
    let mut absent = Vec::new();
    for f in &files {
        let under_src = f.rel.trim_start_matches("src/");
        let mut spellings = vec![f.rel.clone(), under_src.to_owned()];
        if let Some(dir) = under_src.strip_suffix("/mod.rs") {
            spellings.push(format!("src/{dir}/"));
        }
        let stem = f.rel.rsplit('/').next().unwrap();
        if stem != "mod.rs" && stems.iter().filter(|s| *s == stem).count() == 1 {
            spellings.push(stem.to_owned());
        }
        if !spellings.iter().any(|s| text.contains(s.as_str())) {
            absent.push(f.rel.clone());
        }
    }
    let absent: BTreeSet<String> = absent.into_iter().collect();
    ratchet(
        "src/ modules ARCHITECTURE.md does not name",
        &absent,
        UNNAMED_DEBT,
        "",
    );
}

// The map's invariants that a search of the code can keep (ARCHITECTURE.md names each test).
// The code is read as the cycle check reads it: comments, strings and test-only code left out.

/// The program's files (outside tests) whose code holds `needle`.
fn files_with(files: &[File], needle: &str) -> BTreeSet<String> {
    files
        .iter()
        .filter(|f| without_tests(&code_only(&f.text)).0.contains(needle))
        .map(|f| f.rel.clone())
        .collect()
}

/// The program's files (outside tests) whose code matches `pattern`.
fn files_matching(files: &[File], pattern: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(pattern).unwrap();
    files
        .iter()
        .filter(|f| re.is_match(&without_tests(&code_only(&f.text)).0))
        .map(|f| f.rel.clone())
        .collect()
}

/// `found` holds only files `allowed` says yes to.
#[track_caller]
fn only_in(what: &str, found: &BTreeSet<String>, allowed: impl Fn(&str) -> bool) {
    let outside: Vec<&String> = found.iter().filter(|f| !allowed(f)).collect();
    assert!(outside.is_empty(), "{what}: {outside:?}");
}

#[test]
fn only_the_workspace_opens_the_outbox() {
    let found = files_with(&load_files(), "Outbox::open");
    only_in("Outbox::open outside the workspace", &found, |f| {
        f == "src/workspace.rs"
    });
}

#[test]
fn only_db_opens_a_database_connection() {
    let found = files_with(&load_files(), "Connection::open");
    only_in("Connection::open outside src/upload/db.rs", &found, |f| {
        f == "src/upload/db.rs"
    });
}

#[test]
fn no_environment_below_the_front_ends() {
    let found = files_with(&load_files(), "std::env");
    only_in("std::env in the library", &found, |f| {
        f == "src/main.rs" || f.starts_with("src/cli/") || f.starts_with("src/app/")
    });
}

#[test]
fn the_library_never_prints_or_exits() {
    let found = files_matching(
        &load_files(),
        r"\b(?:e?println!|e?print!|dbg!|process::exit|std::process::abort)",
    );
    only_in("printing or exiting in the library", &found, |f| {
        f == "src/main.rs" || f.starts_with("src/cli/") || f.starts_with("src/app/")
    });
}

#[test]
fn no_match_on_the_language() {
    let found = files_with(&load_files(), "match lang");
    only_in(
        "`match lang` (write lang.pick(zh, en) or a Localized type)",
        &found,
        |_| false,
    );
}

/// Debt being paid (issue 21, 'route' and 'daily'): files outside `src/upload/` and the
/// journal that still use SQLite themselves. The same ratchet as the others.
const SQLITE_DEBT: &[&str] = &[];

#[test]
fn sqlite_belongs_to_upload_and_the_journal() {
    let found: BTreeSet<String> = files_with(&load_files(), "rusqlite")
        .into_iter()
        .filter(|f| !f.starts_with("src/upload/") && f != "src/unattended/journal.rs")
        .collect();
    ratchet(
        "files outside src/upload/ and the journal using rusqlite",
        &found,
        SQLITE_DEBT,
        "",
    );
}

/// Debt being paid (issue 21, 'route'): front-end, unattended and support files that hold the
/// outbox (`Outbox`, `&mut Outbox`, `Outbox::`; not a variant named `Outbox(..)`, as the
/// command line's subcommand) instead of going through the workspace.
const OUTBOX_ROUTE_DEBT: &[&str] = &[];

#[test]
fn front_ends_reach_the_outbox_through_the_workspace() {
    let found: BTreeSet<String> = files_matching(&load_files(), r"\bOutbox(?:[^(\w]|$)")
        .into_iter()
        .filter(|f| {
            ["src/app/", "src/cli/", "src/unattended/", "src/support/"]
                .iter()
                .any(|d| f.starts_with(d))
        })
        .collect();
    ratchet(
        "front-end files holding the Outbox",
        &found,
        OUTBOX_ROUTE_DEBT,
        "",
    );
}

/// The bottom of the map's picture: files that import only each other.
const BOTTOM: &[&str] = &[
    "src/bounded.rs",
    "src/digest.rs",
    "src/issue.rs",
    "src/log.rs",
    "src/message.rs",
    "src/named.rs",
    "src/paths.rs",
    "src/privacy.rs",
];

#[test]
fn the_bottom_imports_nothing_above_it() {
    let graph = arrows(&load_files());
    let mut up = Vec::new();
    for f in BOTTOM {
        for t in &graph[*f] {
            if !BOTTOM.contains(&t.as_str()) {
                up.push(format!("{f} -> {t}"));
            }
        }
    }
    assert!(up.is_empty(), "the bottom imports from above: {up:?}");
}

#[test]
fn the_log_and_the_writer_import_nothing_above_them() {
    let files = load_files();
    let graph = arrows(&files);
    let log: Vec<&String> = graph["src/log.rs"]
        .iter()
        .filter(|t| !["src/paths.rs", "src/privacy.rs"].contains(&t.as_str()))
        .collect();
    assert!(log.is_empty(), "src/log.rs imports {log:?}");
    assert!(
        !graph["src/write.rs"].contains("src/pipeline.rs"),
        "src/write.rs imports the pipeline"
    );
}
