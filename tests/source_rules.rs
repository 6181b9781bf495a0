//! Project rules checked on the source text: `unsafe` only under src/ffi (the root crate), a
//! core crate without I/O, clocks or threads (time is passed in) and without the runtime's
//! crates among its dependencies, parking_lot's locks alone, and no dependency that no code
//! uses. Comments, string and
//! character literals are blanked first, so prose about these rules does not trip them;
//! test-only code (`#[cfg(test)]` modules) may use a clock as its starting point.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src` with comments and the contents of string, byte-string, raw-string and character
/// literals replaced by spaces; line breaks are kept so line numbers still match.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            while i < b.len() && b[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(b, i) {
            // r"..." or r#"..."#, possibly with a b prefix: no escapes inside.
            let open = b[i..].iter().position(|&x| x == b'"').unwrap() + i;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let end = b[open + 1..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| open + 1 + p + close.len());
            for &x in &b[i..end] {
                blank(&mut out, x);
            }
            i = end;
        } else if c == b'"' {
            out.push(b' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                let step = if b[i] == b'\\' { 2 } else { 1 };
                for &x in &b[i..(i + step).min(b.len())] {
                    blank(&mut out, x);
                }
                i += step;
            }
            out.push(b' ');
            i += 1;
        } else if c == b'\'' {
            // A character literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let len = if next == Some(b'\\') {
                b[i + 2..].iter().position(|&x| x == b'\'').map(|p| p + 3)
            } else {
                let ch_len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(ch_len + 2)
            };
            match len {
                Some(n) => {
                    out.extend(std::iter::repeat_n(b' ', n));
                    i += n;
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
    String::from_utf8(out).expect("blanking keeps ASCII structure")
}

/// The number of `#` of a raw string literal starting at `i`, if one does.
fn raw_string_start(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return None;
    }
    let mut j = i;
    if b.get(j) == Some(&b'b') {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&x| x == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some(hashes)
}

/// Whether `word` occurs in `line` as a whole identifier.
fn has_word(line: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// `code` with the bodies of inline `#[cfg(test)] mod name { ... }` blocks blanked, and the
/// names of modules declared `#[cfg(test)] mod name;` (whole test-only files).
fn strip_test_modules(code: &str) -> (String, Vec<String>) {
    let mut out = code.to_string();
    let mut test_files = Vec::new();
    let mut from = 0;
    while let Some(p) = code[from..].find("#[cfg(test)]") {
        let attr = from + p;
        from = attr + 1;
        let rest = code[attr + "#[cfg(test)]".len()..].trim_start();
        let Some(decl) = rest.strip_prefix("mod ") else {
            continue;
        };
        let name: String = decl
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = decl[name.len()..].trim_start();
        if after.starts_with(';') {
            test_files.push(name);
        } else if after.starts_with('{') {
            let open = code.len() - after.len();
            let mut depth = 0;
            let mut end = code.len();
            for (k, ch) in code[open..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + k + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let blanked: String = code[attr..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' })
                .collect();
            out.replace_range(attr..end, &blanked);
        }
    }
    (out, test_files)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `f` relative to the crate root, for messages.
fn shown(f: &Path) -> String {
    let root = root();
    f.strip_prefix(&root).unwrap_or(f).display().to_string()
}

/// Every `unsafe` in src/, tests/, crates/ and build.rs outside src/ffi, as "file:line".
fn unsafe_outside_ffi() -> Vec<String> {
    let root = root();
    let mut files = Vec::new();
    for dir in ["src", "tests", "crates"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.push(root.join("build.rs"));
    let ffi = root.join("src/ffi");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&ffi) && f.exists()) {
        let code = code_only(&fs::read_to_string(f).unwrap());
        for (n, line) in code.lines().enumerate() {
            if has_word(line, "unsafe") {
                found.push(format!("{}:{}", shown(f), n + 1));
            }
        }
    }
    found
}

/// What the consensus core must not use: the runtime's I/O, threads and clocks.
const CORE_FORBIDDEN: [&str; 7] = [
    "tokio",
    "quinn",
    "std::fs",
    "std::net",
    "std::thread",
    "Instant::now",
    "SystemTime::now",
];

/// Every forbidden use in the core crate outside test-only modules, as "file:line: what".
fn consensus_core_violations() -> Vec<String> {
    let dir = root().join("crates/core/src");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let mut stripped = Vec::new();
    let mut test_only = Vec::new();
    for f in &files {
        let (code, tests) = strip_test_modules(&code_only(&fs::read_to_string(f).unwrap()));
        let parent = f.parent().unwrap();
        test_only.extend(tests.iter().map(|t| parent.join(format!("{t}.rs"))));
        stripped.push((f, code));
    }
    let mut found = Vec::new();
    for (f, code) in stripped.iter().filter(|(f, _)| !test_only.contains(f)) {
        // `use std::{fs, thread}` names the module without the `std::` prefix next to it.
        let squeezed: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        for group in squeezed.split("std::{").skip(1) {
            let items = group.split('}').next().unwrap_or("");
            for m in ["fs", "net", "thread"] {
                if has_word(items, m) {
                    found.push(format!("{}: use std::{{{m}}}", shown(f)));
                }
            }
        }
        for (n, line) in code.lines().enumerate() {
            let flat: String = line.split_whitespace().collect();
            for word in CORE_FORBIDDEN {
                if has_word(&flat, word) {
                    found.push(format!("{}:{}: {word}", shown(f), n + 1));
                }
            }
        }
    }
    found
}

#[test]
fn unsafe_code_lives_only_in_src_ffi() {
    let found = unsafe_outside_ffi();
    assert!(
        found.is_empty(),
        "unsafe outside src/ffi (move it there, with a // SAFETY: line):\n{}",
        found.join("\n")
    );
}

#[test]
fn consensus_core_has_no_io_threads_or_clocks() {
    let found = consensus_core_violations();
    assert!(
        found.is_empty(),
        "the core crate (crates/core) must take time and I/O from its caller:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_blanking_keeps_code_and_drops_prose() {
    let src = "let a = \"unsafe\"; // unsafe\n/* unsafe /* nested */ */ unsafe fn f<'a>(c: char) \
               { r#\"tokio\"# ; '\\'' ; 'x' }\n#![forbid(unsafe_code)]";
    let code = code_only(src);
    assert_eq!(code.lines().count(), 3);
    let hits: Vec<usize> = code
        .lines()
        .enumerate()
        .filter(|(_, l)| has_word(l, "unsafe"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(hits, [1]);
    assert!(!code.contains("tokio"));
    assert!(code.contains("'a"));
    let (code, files) = strip_test_modules(
        "fn f() {}\n#[cfg(test)]\nmod tests { use tokio; }\n#[cfg(test)]\nmod sim;",
    );
    assert!(!code.contains("tokio") && code.contains("fn f"));
    assert_eq!(files, ["sim"]);
}

/// The names in `section` (e.g. "[dependencies]") of the manifest `toml`.
fn manifest_section(toml: &str, section: &str) -> Vec<String> {
    let mut deps = Vec::new();
    let mut inside = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == section;
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                deps.push(name.trim().to_string());
            }
        }
    }
    deps
}

/// The core crate's [dependencies] (not dev-dependencies) by name.
fn core_dependencies() -> Vec<String> {
    let toml = fs::read_to_string(root().join("crates/core/Cargo.toml")).unwrap();
    manifest_section(&toml, "[dependencies]")
}

/// Whether the Rust code under `dirs` of `krate` names the crate a package is imported as;
/// with `shipping`, test-only modules do not count.
fn code_names(krate: &Path, dirs: &[&str], package: &str, shipping: bool) -> bool {
    // Packages whose library has another name.
    let name = match package {
        "md-5" => "md5".to_string(),
        p => p.replace('-', "_"),
    };
    let mut files = Vec::new();
    for d in dirs {
        let dir = krate.join(d);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else if dir.is_file() {
            files.push(dir);
        }
    }
    files.iter().any(|f| {
        let mut code = code_only(&fs::read_to_string(f).unwrap());
        if shipping {
            code = strip_test_modules(&code).0;
        }
        code.lines().any(|l| has_word(l, &name))
    })
}

/// Every dependency of every package is used: [dependencies] by the code that ships,
/// [dev-dependencies] by the tests, benchmarks or test modules.
#[test]
fn every_dependency_is_used() {
    let root = root();
    let mut packages = vec![root.clone()];
    for entry in fs::read_dir(root.join("crates")).unwrap() {
        packages.push(entry.unwrap().path());
    }
    let mut unused = Vec::new();
    for p in packages {
        let toml = fs::read_to_string(p.join("Cargo.toml")).unwrap();
        for dep in manifest_section(&toml, "[dependencies]") {
            if !code_names(&p, &["src", "build.rs"], &dep, true) {
                unused.push(format!("{}: {dep}", shown(&p.join("Cargo.toml"))));
            }
        }
        for dep in manifest_section(&toml, "[dev-dependencies]") {
            if !code_names(&p, &["src", "tests", "benches", "examples"], &dep, false) {
                unused.push(format!("{}: {dep} (dev)", shown(&p.join("Cargo.toml"))));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "dependencies no code uses (remove them, or move them to [dev-dependencies]):\n{}",
        unused.join("\n")
    );
}

#[test]
fn the_core_crate_depends_on_no_io_crate() {
    let deps = core_dependencies();
    assert!(deps.iter().any(|d| d == "bytes"), "parsed {deps:?}");
    let io = [
        "tokio",
        "quinn",
        "rustls",
        "socket2",
        "rustix",
        "libc",
        "dcf-runtime",
    ];
    let bad: Vec<_> = deps.iter().filter(|d| io.contains(&d.as_str())).collect();
    assert!(bad.is_empty(), "crates/core must not depend on {bad:?}");
}

/// Whether `code` (comments and literals blanked) names one of the standard library's
/// locks. The project uses parking_lot's alone: they do not poison (a panic caught at the C
/// boundary must not turn every later call on that lock into an error), are
/// const-constructible for statics, and one flavour means one set of semantics to reason
/// about. tokio's async locks are another thing and allowed.
fn names_a_std_lock(code: &str) -> bool {
    let flat: String = code.split_whitespace().collect();
    flat.match_indices("sync::").any(|(at, _)| {
        if flat[..at].ends_with("tokio::") {
            return false;
        }
        let rest = &flat[at + "sync::".len()..];
        let named = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or(""),
            None => rest.split([';', '(', '>', ',']).next().unwrap_or(""),
        };
        ["Mutex", "RwLock", "Condvar"]
            .iter()
            .any(|l| has_word(named, l) || named.starts_with(l))
    })
}

#[test]
fn one_lock_flavour() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["src", "tests", "crates"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.push(root.join("build.rs"));
    let found: Vec<String> = files
        .iter()
        .filter(|f| f.exists())
        .filter(|f| names_a_std_lock(&code_only(&fs::read_to_string(f).unwrap())))
        .map(|f| shown(f))
        .collect();
    assert!(
        found.is_empty(),
        "std::sync locks (use parking_lot's Mutex, RwLock, Condvar):\n{}",
        found.join("\n")
    );
    assert!(names_a_std_lock(
        "use std::sync::{\n    Arc,\n    Mutex,\n};"
    ));
    assert!(names_a_std_lock(
        "static M: std::sync::RwLock<u8> = std::sync::RwLock::new(0);"
    ));
    assert!(names_a_std_lock("use std::{sync::Condvar, fs};"));
    assert!(!names_a_std_lock(
        "use std::sync::{atomic::AtomicU64, Arc}; use tokio::sync::Mutex;"
    ));
    assert!(!names_a_std_lock(
        "use parking_lot::{Mutex, RwLock}; use std::sync::OnceLock;"
    ));
}
