//! One logical line of the body, and what every stage asks of a line: is it
//! blank, quoted, a separator, a code fence; and how a stage drops lines.

/// Lines longer than this are never attribution lines, header fields or
/// signatures; skipping them keeps the regexes off megabyte-long lines.
pub(super) const MAX_HEADER_LEN: usize = 600;

/// One logical line of the body.
#[derive(Debug, Clone)]
pub(super) struct Line {
    /// What the rules look at (a wrapped attribution joined with spaces).
    pub(super) text: String,
    /// The line(s) as written, given back when the line is kept.
    pub(super) orig: String,
    pub(super) keep: bool,
    /// Already the result of a join: not joined again.
    pub(super) joined: bool,
}

impl Line {
    pub(super) fn new(s: &str) -> Line {
        Line {
            text: s.to_owned(),
            orig: s.to_owned(),
            keep: true,
            joined: false,
        }
    }

    /// Kept and not blank.
    pub(super) fn is_kept_nonblank(&self) -> bool {
        self.keep && !is_blank(&self.text)
    }

    /// Reply text: kept, not blank and not quoted.
    pub(super) fn is_reply_text(&self) -> bool {
        self.is_kept_nonblank() && !is_quote(&self.text)
    }
}

pub(super) fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Strips only the quote marks (and spaces) in front of a line.
pub(super) fn dequote(s: &str) -> &str {
    s.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

/// The length of the name in a "Name> …" quote prefix, as some Usenet-era
/// clients write it.
fn named_quote_prefix(line: &str) -> Option<usize> {
    let letters = line.bytes().take_while(u8::is_ascii_alphabetic).count();
    ((1..=12).contains(&letters) && line.as_bytes().get(letters) == Some(&b'>')).then_some(letters)
}

/// A quoted line: "> …", or a "Name> …" prefix.
pub(super) fn is_quote(line: &str) -> bool {
    line.trim_start().starts_with('>') || named_quote_prefix(line).is_some()
}

/// `Name>` and `|` quote prefixes shown as `>`.
pub(super) fn canonical_quote_prefix(line: &str) -> String {
    if let Some(letters) = named_quote_prefix(line) {
        return line[letters..].to_owned();
    }
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix('|') {
        return format!(">{rest}");
    }
    line.to_owned()
}

/// A line of repeated punctuation that separates a footer, a signature or a
/// quoted message: "_____", "-----", "=====", "*****", and Gmail's lone "ᐧ".
pub(super) fn is_separator(line: &str, min: usize) -> bool {
    let t = line.trim();
    if t == "ᐧ" {
        return true;
    }
    let mut chars = t.chars();
    let Some(c) = chars.next() else { return false };
    if !"-_=*~+#—–".contains(c) {
        return false;
    }
    t.chars().all(|x| x == c) && t.chars().count() >= min
}

/// The opening or closing line of a Markdown code block.
pub(super) fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// Drops lines `from..to`.
pub(super) fn drop_range(lines: &mut [Line], from: usize, to: usize) {
    for l in &mut lines[from..to] {
        l.keep = false;
    }
}

/// Drops line `i` and everything after it, and the separator and blank lines
/// just above it.
pub(super) fn cut(lines: &mut [Line], i: usize) {
    drop_range(lines, i, lines.len());
    let mut k = i;
    while k > 0 {
        k -= 1;
        if !lines[k].keep {
            continue;
        }
        let t = &lines[k].text;
        if is_blank(t) || is_separator(t, 2) {
            lines[k].keep = false;
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_prefixes() {
        let cases = [
            ("> a", true, "> a"),
            ("  >a", true, "  >a"),
            ("Ann> a", true, "> a"),
            ("| a", false, "> a"),
            ("a > b", false, "a > b"),
            ("Abcdefghijklm> a", false, "Abcdefghijklm> a"),
            ("", false, ""),
        ];
        for (line, quote, canonical) in cases {
            assert_eq!(is_quote(line), quote, "{line:?}");
            assert_eq!(canonical_quote_prefix(line), canonical, "{line:?}");
        }
    }

    #[test]
    fn separators() {
        let cases = [
            ("-----", 5, true),
            ("----", 5, false),
            ("__", 2, true),
            ("ᐧ", 5, true),
            ("-=-=-", 2, false),
            ("", 2, false),
            ("abc", 2, false),
        ];
        for (line, min, want) in cases {
            assert_eq!(is_separator(line, min), want, "{line:?}");
        }
    }
}
