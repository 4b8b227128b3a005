//! The house keeps its shape: imports go down the floors (never back up), at most one circle of
//! files, and no source file over 700 lines of code before its tests. These read `src/` as text,
//! so a change that breaks the rule fails here, with the file and the import named.
//!
//! Floors, lowest first (`docs/architecture.md` draws them): a module may import its own floor or
//! a lower one. Re-exports (`pub use`) in a module's table of contents are not imports.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FLOORS: &[(&str, u32)] = &[
    ("model", 0),
    ("k8s", 0),
    ("private_files", 0),
    ("traces", 0),
    ("redact", 0),
    ("config", 1),
    ("metrics", 2),
    ("forecast", 2),
    ("cluster", 3),
    ("sim", 4),
    ("advisor", 5),
    ("actions", 6),
    ("backtest", 7),
    ("pipeline", 8),
    ("engine", 9),
    ("fleet", 9),
    ("tui", 10),
    ("autopilot", 10),
    ("cli", 11),
];

/// The one circle the house keeps: walk-forward calibration inside the policy-driven replay, and
/// calibration replaying through that same policy.
const ALLOWED_CIRCLES: usize = 1;
const MAX_CODE_LINES: usize = 700;

type ModPath = Vec<String>;

struct SourceFile {
    path: PathBuf,
    module: ModPath,
    /// Comments and string contents blanked, cut before the test module.
    code: String,
    /// Lines of code (not blank, not only a comment) before the test module.
    code_lines: usize,
    test_only: bool,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn module_of(path: &Path) -> ModPath {
    let rel = path.strip_prefix(src_dir()).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Blank out comments and the insides of string and char literals, keeping line breaks, so
/// that a path in a doc comment or a URL in a string is not read as an import.
fn blank_comments_and_strings(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let keep_newlines = |out: &mut Vec<u8>, s: &[u8]| {
        for &c in s {
            out.push(if c == b'\n' { b'\n' } else { b' ' });
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            keep_newlines(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = 0;
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            keep_newlines(&mut out, &rest[..j]);
            i += j;
        } else if rest[0] == b'r'
            && (rest.starts_with(b"r\"") || rest.starts_with(b"r#"))
            && (i == 0 || !is_ident(b[i - 1]))
        {
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                out.push(rest[0]);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let body = 2 + hashes;
            let end = rest[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(rest.len(), |p| body + p + close.len());
            out.push(b'"');
            keep_newlines(&mut out, &rest[1..end.saturating_sub(1)]);
            out.push(b'"');
            i += end;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            out.push(b'"');
            keep_newlines(&mut out, &rest[1..end.saturating_sub(1)]);
            out.push(b'"');
            i += end;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{1F600}'), or else a lifetime.
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|p| p + 3)
            } else {
                let ch_len = std::str::from_utf8(&rest[1..rest.len().min(5)])
                    .ok()
                    .or_else(|| {
                        (2..=5)
                            .rev()
                            .find_map(|n| std::str::from_utf8(&rest[1..rest.len().min(n)]).ok())
                    })
                    .and_then(|s| s.chars().next())
                    .map_or(1, char::len_utf8);
                (rest.get(1 + ch_len) == Some(&b'\'')).then_some(ch_len + 2)
            };
            match len {
                Some(n) => {
                    keep_newlines(&mut out, &rest[..n]);
                    i += n;
                }
                None => {
                    out.push(b'\'');
                    i += 1;
                }
            }
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Where the file's tests begin: the first `#[cfg(test)]` that opens a module with a body.
fn tests_start(code: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = code[from..].find("#[cfg(test)]") {
        let at = from + p;
        let after = code[at + "#[cfg(test)]".len()..].trim_start();
        let after = after
            .strip_prefix("pub(crate)")
            .unwrap_or(after)
            .trim_start();
        if let Some(m) = after.strip_prefix("mod ") {
            let head: String = m.chars().take_while(|&c| c != ';' && c != '{').collect();
            if m[head.len()..].starts_with('{') {
                return Some(at);
            }
        }
        from = at + 1;
    }
    None
}

/// Child modules declared `mod x;` in this file, and whether each is declared under `#[cfg(test)]`.
fn declared_children(code: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = code.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t.strip_prefix("pub(crate) ").unwrap_or(t);
        if let Some(name) = t.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            let test_only = lines[..n]
                .iter()
                .rev()
                .take_while(|l| l.trim().starts_with("#["))
                .any(|l| l.contains("cfg(test)"));
            out.push((name.trim().to_string(), test_only));
        }
    }
    out
}

/// Remove `pub use …;` re-exports: a module's table of contents, not an import.
fn without_reexports(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    loop {
        let found = ["pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .filter_map(|k| rest.find(k).map(|p| (p, k.len())))
            .filter(|(p, _)| *p == 0 || !is_ident(rest.as_bytes()[p - 1]))
            .min();
        match found {
            Some((p, _)) => {
                out.push_str(&rest[..p]);
                let end = rest[p..].find(';').map_or(rest.len(), |e| p + e + 1);
                out.extend(rest[p..end].chars().filter(|&c| c == '\n'));
                rest = &rest[end..];
            }
            None => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// Every path named after `prefix::` at `at` (a use tree with braces expands to each leaf).
fn paths_after(code: &str, at: usize, base: &ModPath, out: &mut Vec<ModPath>) {
    let b = code.as_bytes();
    let mut i = at;
    let mut path = base.clone();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            // A group: split at top-level commas.
            let mut depth = 0;
            let mut start = i + 1;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        group_item(code, start, j, &path, out);
                        start = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            group_item(code, start, j, &path, out);
            return;
        }
        let s = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        if s == i {
            out.push(path);
            return;
        }
        let seg = &code[s..i];
        if seg != "self" {
            path.push(seg.to_string());
        }
        let mut k = i;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if code[k..].starts_with("::") {
            i = k + 2;
        } else {
            out.push(path);
            return;
        }
    }
}

fn group_item(code: &str, start: usize, end: usize, base: &ModPath, out: &mut Vec<ModPath>) {
    let item = code[start..end].trim();
    if item.is_empty() {
        return;
    }
    let offset = start + code[start..end].find(item).unwrap_or(0);
    paths_after(code, offset, base, out);
}

fn named_paths(file: &SourceFile, children: &[String]) -> Vec<ModPath> {
    let code = without_reexports(&file.code);
    let b = code.as_bytes();
    let mut out = Vec::new();
    let me = &file.module;
    let mut roots: Vec<(String, ModPath)> = vec![
        ("crate".into(), Vec::new()),
        ("self".into(), me.clone()),
        ("super".into(), me[..me.len().saturating_sub(1)].to_vec()),
    ];
    roots.extend(children.iter().map(|c| {
        let mut p = me.clone();
        p.push(c.clone());
        (c.clone(), p)
    }));
    for (root, base) in &roots {
        let needle = format!("{root}::");
        let mut from = 0;
        while let Some(p) = code[from..].find(&needle) {
            let at = from + p;
            from = at + needle.len();
            let before_ok = at == 0 || {
                let c = b[at - 1];
                !is_ident(c) && c != b':'
            };
            if !before_ok {
                continue;
            }
            let mut base = base.clone();
            let mut rest = from;
            // super::super::…
            while root == "super" && code[rest..].starts_with("super::") {
                base.pop();
                rest += "super::".len();
            }
            paths_after(&code, rest, &base, &mut out);
        }
    }
    out
}

fn read_house() -> Vec<SourceFile> {
    let mut paths = Vec::new();
    rust_files(&src_dir(), &mut paths);
    let mut files: Vec<SourceFile> = paths
        .into_iter()
        .map(|path| {
            let raw = std::fs::read_to_string(&path).expect("read source");
            let blank = blank_comments_and_strings(&raw);
            let cut = tests_start(&blank).unwrap_or(blank.len());
            let code_lines = blank[..cut]
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            SourceFile {
                module: module_of(&path),
                path,
                code: blank[..cut].to_string(),
                code_lines,
                test_only: false,
            }
        })
        .collect();
    // Files declared under #[cfg(test)] (and tests.rs) hold tests, not the house's code.
    let mut test_modules: BTreeSet<ModPath> = BTreeSet::new();
    for f in &files {
        for (child, test_only) in declared_children(&f.code) {
            if test_only {
                let mut m = f.module.clone();
                m.push(child);
                test_modules.insert(m);
            }
        }
    }
    for f in &mut files {
        f.test_only = f.path.file_name().is_some_and(|n| n == "tests.rs")
            || test_modules.iter().any(|t| f.module.starts_with(t));
    }
    files
}

fn imports(files: &[SourceFile]) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules: BTreeSet<&ModPath> = files.iter().map(|f| &f.module).collect();
    let resolve = |p: &ModPath| -> Option<ModPath> {
        (1..=p.len())
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| modules.contains(m))
    };
    let mut edges = BTreeMap::new();
    for f in files.iter().filter(|f| !f.test_only) {
        let children: Vec<String> = declared_children(&f.code)
            .into_iter()
            .map(|c| c.0)
            .collect();
        let targets: BTreeSet<ModPath> = named_paths(f, &children)
            .iter()
            .filter_map(resolve)
            .filter(|t| *t != f.module && !t.is_empty())
            .collect();
        edges.insert(f.module.clone(), targets);
    }
    edges
}

fn floor(module: &ModPath) -> Option<u32> {
    let top = module.first()?;
    FLOORS.iter().find(|(m, _)| m == top).map(|(_, f)| *f)
}

fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    // Tarjan's strongly connected components.
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        next: usize,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let edges = s.edges;
        for w in edges.get(v).into_iter().flatten() {
            let Some((w, _)) = edges.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.found.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn show(m: &ModPath) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn every_top_level_module_has_a_floor() {
    let files = read_house();
    let missing: BTreeSet<String> = files
        .iter()
        .filter(|f| !f.test_only && !f.module.is_empty() && floor(&f.module).is_none())
        .map(|f| f.module[0].clone())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a floor in tests/house.rs: {missing:?}"
    );
}

#[test]
fn no_import_runs_back_up_a_floor() {
    let files = read_house();
    let mut up = Vec::new();
    for (from, targets) in imports(&files) {
        let (Some(f), true) = (floor(&from), !from.is_empty()) else {
            continue;
        };
        for to in targets {
            if let Some(t) = floor(&to)
                && t > f
            {
                up.push(format!(
                    "{} (floor {f}) imports {} (floor {t})",
                    show(&from),
                    show(&to)
                ));
            }
        }
    }
    assert!(up.is_empty(), "imports back up a floor:\n{}", up.join("\n"));
}

#[test]
fn at_most_one_circle_of_files() {
    let files = read_house();
    let found = circles(&imports(&files));
    let text: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(show).collect::<Vec<_>>().join(" · "))
        .collect();
    assert!(
        found.len() <= ALLOWED_CIRCLES,
        "circles of files:\n{}",
        text.join("\n")
    );
}

#[test]
fn no_source_file_is_over_700_lines_of_code_before_its_tests() {
    let files = read_house();
    let long: Vec<String> = files
        .iter()
        .filter(|f| !f.test_only && f.code_lines > MAX_CODE_LINES)
        .map(|f| format!("{}: {} lines", f.path.display(), f.code_lines))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_CODE_LINES} lines of code:\n{}",
        long.join("\n")
    );
}

// The reader itself: a check that cannot see an import would pass on anything.
#[test]
fn the_reader_sees_imports_in_every_form_and_ignores_comments_and_strings() {
    let src = r#"
use crate::a::{b, c::{d, e}};
use super::sibling;
// use crate::commented::out;
const URL: &str = "crate::in_a_string";
fn f() { child::g(); let c = 'x'; }
pub use crate::reexported::Thing;
"#;
    let file = SourceFile {
        path: PathBuf::from("x.rs"),
        module: vec!["top".into(), "me".into()],
        code: blank_comments_and_strings(src),
        code_lines: 0,
        test_only: false,
    };
    let mut got: Vec<String> = named_paths(&file, &["child".into()])
        .iter()
        .map(|p| p.join("::"))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "a::b",
            "a::c::d",
            "a::c::e",
            "top::me::child::g",
            "top::sibling"
        ],
        "paths read from the sample"
    );
    let cut = "fn a() {}\n#[cfg(test)]\nmod tests {\n fn b() {}\n}\n";
    assert_eq!(tests_start(cut), Some(10));
}
