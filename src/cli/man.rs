//! `ticketd man DIR` (hidden; the package build calls it): writes ticketd(1)
//! and one page per subcommand from the clap definitions, and
//! ticketd.toml(5) from the commented `config/ticketd.example.toml` compiled
//! into the binary — one source each, so a page cannot drift from the
//! options or the keys it describes. A subcommand rather than a `build.rs`,
//! so ordinary builds do not pay for it.

use std::fmt::Write as _;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CmdResult, Exit, Failure};

/// The example config: ticketd.toml(5) is rendered from its comments, and
/// the package installs it as /etc/ticketd/ticketd.toml.
const EXAMPLE: &str = include_str!("../../config/ticketd.example.toml");
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes every page into `dir` (created when missing), uncompressed.
pub fn write_all(dir: &Path) -> CmdResult {
    let cannot = |what: &str, path: &Path, e: std::io::Error| {
        Failure::new(
            Exit::TempFail,
            format!("cannot {what} {}: {e}", path.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot("create the folder", dir, e))?;
    for (name, text) in pages()? {
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|e| cannot("write the man page", &path, e))?;
        outln!("{}", path.display());
    }
    Ok(())
}

/// Every page as (file name, roff text): the commands, then ticketd.toml.5.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Propagates the global options (--config, --log-format) into every
    // subcommand and gives each its display name, ticketd-tickets-list.
    cmd.build();
    let mut out = Vec::new();
    command_pages(&cmd, true, &mut out)
        .map_err(|e| Failure::new(Exit::Software, format!("cannot render a man page: {e}")))?;
    out.push(("ticketd.toml.5".into(), toml_page(EXAMPLE).into_bytes()));
    Ok(out)
}

fn command_pages(
    cmd: &clap::Command,
    top: bool,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("ticketd {VERSION}"))
        .manual("ticketd manual");
    let mut text = Vec::new();
    man.render(&mut text)?;
    if top {
        text.extend_from_slice(TOP_PAGE_TAIL.as_bytes());
    } else {
        text.extend_from_slice(b".SH \"SEE ALSO\"\n\\fBticketd\\fR(1), \\fBticketd.toml\\fR(5)\n");
    }
    out.push((man.get_filename(), text));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        command_pages(sub, false, out)?;
    }
    Ok(())
}

/// What ticketd(1) says beyond its options: the exit codes scripts act on
/// (DESIGN §5), where things live, and where to read on.
const TOP_PAGE_TAIL: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success; for \fBingest\fR every outcome, nothing was lost.
.TP
\fB64\fR
Wrong arguments or empty input.
.TP
\fB70\fR
Internal error: a bug or a corrupt database.
.TP
\fB75\fR
Temporary failure (database busy, disk full): try again later; an MTA pipe retries.
.TP
\fB78\fR
The configuration is wrong: \fBticketd check\-config\fR lists every problem; systemd does not restart the service.
.SH FILES
.TP
\fI/etc/ticketd/ticketd.toml\fR
The configuration, see \fBticketd.toml\fR(5).
.TP
\fI/var/lib/ticketd/\fR
The database and attachments; the only place the service may write.
.TP
\fI/usr/share/ticketd/templates/\fR
The notification templates, a starting point for \fBsupport.templates_dir\fR.
.TP
\fI/usr/share/doc/ticketd/README.md\fR
The operations guide.
.SH "SEE ALSO"
\fBticketd.toml\fR(5), \fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd.exec\fR(5)
"#;

/// The example file read as documentation: comment blocks describe the key
/// or section header below them; `# key = value` is an optional key shown
/// with an example value.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExampleDoc {
    /// The file's opening comment, up to the first blank line.
    pub intro: Vec<String>,
    pub sections: Vec<Section>,
}

/// One `[name]` or `[[name]]` header and the keys below it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// `store`, `portal.fields`, `rules`.
    pub name: String,
    /// `[[name]]`: may be repeated.
    pub array: bool,
    pub about: Vec<String>,
    pub keys: Vec<Key>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    /// The value as written in the example (TOML syntax).
    pub value: String,
    /// Active in the example (`key = …`); else commented out, i.e. unset.
    pub set: bool,
    pub about: Vec<String>,
}

/// A line of the example, classified.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Blank,
    /// Comment text after `# ` (leading spaces beyond it kept).
    Comment(&'a str),
    /// `key = value`, or `# key = value` when `set` is false.
    Key {
        name: &'a str,
        value: &'a str,
        set: bool,
    },
    Header {
        name: &'a str,
        array: bool,
    },
    /// Anything else (a continuation of a multi-line value).
    Other(&'a str),
}

/// How one line of the example reads.
pub fn classify(line: &str) -> Line<'_> {
    let t = line.trim_end();
    if t.trim_start().is_empty() {
        return Line::Blank;
    }
    if let Some(c) = t.strip_prefix('#') {
        let c = c.strip_prefix(' ').unwrap_or(c);
        return match key_value(c) {
            Some((name, value)) => Line::Key {
                name,
                value,
                set: false,
            },
            None => Line::Comment(c),
        };
    }
    let t = t.trim_start();
    if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
        return Line::Header {
            name: name.trim(),
            array: true,
        };
    }
    if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Line::Header {
            name: name.trim(),
            array: false,
        };
    }
    match key_value(t) {
        Some((name, value)) => Line::Key {
            name,
            value,
            set: true,
        },
        None => Line::Other(t),
    }
}

/// `name = value` where name is a bare TOML key in ticketd's style
/// (lower case, digits, `_`) and nothing stands before it; prose such as
/// "e.g. trusted_authserv_ids = […]" is not a key.
fn key_value(s: &str) -> Option<(&str, &str)> {
    let (name, value) = s.split_once(" = ")?;
    let bare = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    bare.then(|| (name, value.trim()))
}

/// Reads the example file as documentation.
pub fn parse_example(text: &str) -> ExampleDoc {
    let mut doc = ExampleDoc::default();
    let mut pending: Vec<String> = Vec::new();
    // Where keys go: a repeated `[[rules]]` adds to the first one's entry,
    // so each key is described once.
    let mut current = 0;
    for line in text.lines() {
        match classify(line) {
            Line::Blank => {
                if doc.sections.is_empty() && doc.intro.is_empty() {
                    doc.intro = std::mem::take(&mut pending);
                }
            }
            Line::Comment(c) => pending.push(c.to_owned()),
            Line::Header { name, array } => {
                let about = std::mem::take(&mut pending);
                match doc.sections.iter().position(|s| array && s.name == name) {
                    Some(i) => current = i,
                    None => {
                        doc.sections.push(Section {
                            name: name.to_owned(),
                            array,
                            about,
                            keys: Vec::new(),
                        });
                        current = doc.sections.len() - 1;
                    }
                }
            }
            Line::Key { name, value, set } => {
                let key = Key {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    set,
                    about: std::mem::take(&mut pending),
                };
                if doc.sections.is_empty() {
                    // A key above every header (none today) is top level.
                    doc.sections.push(Section::default());
                }
                let section = &mut doc.sections[current];
                if !section.keys.iter().any(|k| k.name == key.name) {
                    section.keys.push(key);
                }
            }
            Line::Other(rest) => {
                // The rest of a value that spans lines: `agents = [` …
                if let Some(key) = doc
                    .sections
                    .get_mut(current)
                    .and_then(|s| s.keys.last_mut())
                {
                    key.value.push(' ');
                    key.value.push_str(rest);
                }
            }
        }
    }
    doc
}

/// ticketd.toml(5), rendered from the example file's text.
pub fn toml_page(example: &str) -> String {
    let doc = parse_example(example);
    let mut r = String::new();
    let _ = writeln!(
        r,
        ".TH TICKETD.TOML 5 \"\" \"ticketd {VERSION}\" \"ticketd manual\""
    );
    // No hyphenation, ragged right: keys, paths and values stay whole.
    r.push_str(".nh\n.ad l\n");
    r.push_str(".SH NAME\nticketd.toml \\- configuration file of ticketd\n");
    r.push_str(".SH SYNOPSIS\n\\fI/etc/ticketd/ticketd.toml\\fR\n");
    r.push_str(".SH DESCRIPTION\n");
    r.push_str(
        "\\fBticketd\\fR(1) reads its configuration from a TOML file, \
         \\fI/etc/ticketd/ticketd.toml\\fR unless \\fB\\-\\-config\\fR \\fIPATH\\fR names another. \
         This page is generated from the commented example configuration that \
         the package installs as that file, so the two describe the same keys.\n.PP\n",
    );
    prose(&mut r, &doc.intro);
    r.push_str(".PP\nA key shown as \\fIunset\\fR is left out of the example; its value there is an example, not a default.\n");
    r.push_str(".SH KEYS\n");
    for s in &doc.sections {
        let header = match (s.name.is_empty(), s.array) {
            (true, _) => "top level".to_owned(),
            (false, true) => format!("[[{}]]", s.name),
            (false, false) => format!("[{}]", s.name),
        };
        let _ = writeln!(r, ".SS \"{}\"", esc(&header).replace('"', "\\(dq"));
        if !s.about.is_empty() {
            prose(&mut r, &s.about);
        }
        for k in &s.keys {
            r.push_str(".TP\n");
            if k.set {
                let _ = writeln!(r, "\\fB{}\\fR = {}", esc(&k.name), esc(&k.value));
            } else {
                let _ = writeln!(
                    r,
                    "\\fB{}\\fR (unset; for example {})",
                    esc(&k.name),
                    esc(&k.value)
                );
            }
            if k.about.is_empty() {
                r.push_str("See the key above.\n");
            } else {
                prose(&mut r, &k.about);
            }
        }
    }
    r.push_str(
        ".SH FILES\n.TP\n\\fI/etc/ticketd/ticketd.toml\\fR\nThe configuration (root:ticketd 0640).\n\
         .TP\n\\fI/usr/share/ticketd/templates/\\fR\nThe notification templates, a starting point for \\fBtemplates_dir\\fR.\n\
         .SH \"SEE ALSO\"\n\\fBticketd\\fR(1), \\fBticketd\\-check\\-config\\fR(1)\n",
    );
    r
}

/// Comment lines as roff text: plain lines are filled into a paragraph;
/// lines indented past `# ` (examples, lists) keep their own lines;
/// `code` turns bold. Only `.sp` and `.nf`/`.fi`, which keep the indent of
/// the `.TP` they may stand in.
fn prose(r: &mut String, lines: &[String]) {
    let mut verbatim = false;
    for line in lines {
        let indented = line.starts_with(' ');
        if indented != verbatim {
            r.push_str(if indented { ".nf\n" } else { ".fi\n" });
            verbatim = indented;
        }
        if line.trim().is_empty() {
            r.push_str(".sp\n");
            continue;
        }
        if indented {
            r.push_str("\\ \\ ");
        }
        r.push_str(&code_spans(line.trim()));
        r.push('\n');
    }
    if verbatim {
        r.push_str(".fi\n");
    }
}

/// `esc`, with each `code` span in bold (when the backticks pair up).
fn code_spans(line: &str) -> String {
    let parts: Vec<&str> = line.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return esc(line);
    }
    let mut o = String::new();
    // A `\\&` that `esc` puts before a part's leading `.` is zero-width.
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            o.push_str("\\fB");
            o.push_str(&esc(part));
            o.push_str("\\fR");
        } else {
            o.push_str(&esc(part));
        }
    }
    if o.starts_with('.') || o.starts_with('\'') {
        o.insert_str(0, "\\&");
    }
    o
}

/// Text made safe for a roff text line: backslashes and hyphens literal
/// (so `--config` and regexes copy as typed), non-ASCII as a named glyph,
/// and never a leading `.` or `'`, which would make it a request.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\e"),
            '-' => o.push_str("\\-"),
            c if c.is_ascii() => o.push(c),
            c => {
                let _ = write!(o, "\\[u{:04X}]", u32::from(c));
            }
        }
    }
    if o.starts_with('.') || o.starts_with('\'') {
        o.insert_str(0, "\\&");
    }
    o
}

#[cfg(test)]
#[path = "man_tests.rs"]
mod tests;
