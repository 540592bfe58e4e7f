//! What every corpus check shares: where the corpus is, and how a source's
//! result is counted and printed.

use std::path::{Path, PathBuf};

/// `$TICKETD_CORPUS`, else `../shared/corpus` next to the crate.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("TICKETD_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

/// One source's tally for one check.
#[derive(Debug)]
pub struct SourceResult {
    /// e.g. `talon/standard_replies` or `classify/sisimai_bounces`.
    pub source: String,
    pub passed: usize,
    pub total: usize,
    /// One line per miss: the file and what differed.
    pub failures: Vec<String>,
    /// The pass rate below which the whole check fails (0.0..=1.0).
    pub required: f64,
}

impl SourceResult {
    pub fn new(source: impl Into<String>, required: f64) -> Self {
        SourceResult {
            source: source.into(),
            passed: 0,
            total: 0,
            failures: Vec::new(),
            required,
        }
    }

    /// Count one case; `miss` is `None` when it passed.
    pub fn record(&mut self, miss: Option<String>) {
        self.total += 1;
        match miss {
            None => self.passed += 1,
            Some(m) => self.failures.push(m),
        }
    }

    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.passed as f64 / self.total as f64
        }
    }

    pub fn ok(&self) -> bool {
        self.total > 0 && self.rate() + 1e-9 >= self.required
    }
}

/// Read a file as text the way a decoded body arrives: lossy UTF-8.
#[allow(dead_code)] // used by the reply checks
pub fn read_text(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => panic!("corpus file {}: {e}", path.display()),
    }
}

/// Every file under `dir` (recursively) whose name ends with one of `exts`, sorted.
pub fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| exts.iter().any(|x| n.ends_with(x)))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
