use crate::common::SourceResult;
use std::path::Path;

pub fn run(_corpus: &Path) -> Vec<SourceResult> {
    Vec::new()
}
