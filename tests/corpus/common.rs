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
    /// For the reply suites: how many visible texts came out empty where
    /// the expectation is not (the worst miss: the whole reply lost).
    /// `None` for checks that compare no text.
    pub empty: Option<usize>,
    /// The slowest case timed with [`SourceResult::time`], and its name.
    pub slowest: Option<(std::time::Duration, String)>,
}

impl SourceResult {
    pub fn new(source: impl Into<String>, required: f64) -> Self {
        SourceResult {
            source: source.into(),
            passed: 0,
            total: 0,
            failures: Vec::new(),
            required,
            empty: None,
            slowest: None,
        }
    }

    /// Runs `f` for case `name`, keeping the slowest time.
    pub fn time<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let out = f();
        let took = started.elapsed();
        if self.slowest.as_ref().is_none_or(|(t, _)| took > *t) {
            self.slowest = Some((took, name.to_owned()));
        }
        out
    }

    /// Count one text comparison: a miss when `got` differs from `want`,
    /// and an empty miss when `got` is blank and `want` is not.
    pub fn record_text(&mut self, file: &str, got: &str, want: &str) {
        let empty = self.empty.get_or_insert(0);
        if got.trim().is_empty() && !want.trim().is_empty() {
            *empty += 1;
        }
        self.record((got != want).then(|| format!("{file}: got {got:?}, want {want:?}")));
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
