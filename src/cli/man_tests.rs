//! Tests of `man.rs`: the example config read as documentation, and the
//! check that ticketd.toml(5) names exactly the keys the parser knows.

use super::*;
use crate::config::Config;
use std::collections::BTreeSet;

#[test]
fn lines_are_classified_as_the_example_means_them() {
    for (line, want) in [
        ("", Line::Blank),
        ("# A comment.", Line::Comment("A comment.")),
        (
            "#   host name, e.g. x = 1",
            Line::Comment("  host name, e.g. x = 1"),
        ),
        (
            "path = \"ticketd.db\"",
            Line::Key {
                name: "path",
                value: "\"ticketd.db\"",
                set: true,
            },
        ),
        (
            "# oncall = \"oncall@example.test\"",
            Line::Key {
                name: "oncall",
                value: "\"oncall@example.test\"",
                set: false,
            },
        ),
        (
            "[store]",
            Line::Header {
                name: "store",
                array: false,
            },
        ),
        (
            "[[portal.fields]]",
            Line::Header {
                name: "portal.fields",
                array: true,
            },
        ),
        ("# field: from | to", Line::Comment("field: from | to")),
    ] {
        assert_eq!(classify(line), want, "{line:?}");
    }
}

#[test]
fn roff_escapes_what_roff_would_interpret() {
    for (text, want) in [
        ("--config", "\\-\\-config"),
        ("(?i)\\\\b", "(?i)\\e\\eb"),
        (".hidden", "\\&.hidden"),
        ("'quoted'", "\\&'quoted'"),
        ("a … b", "a \\[u2026] b"),
    ] {
        assert_eq!(esc(text), want, "{text:?}");
    }
}

/// The parser's own list of keys ([`crate::config::known_keys`]): each
/// table, and each of its keys that is not itself a table.
fn parser_keys() -> BTreeSet<String> {
    let known = crate::config::known_keys();
    let tables: BTreeSet<&str> = known.iter().map(|(t, _)| *t).collect();
    let mut out = BTreeSet::new();
    for (table, keys) in &known {
        out.insert((*table).to_owned());
        for key in *keys {
            let path = format!("{table}.{key}");
            if !tables.contains(path.as_str()) {
                out.insert(path);
            }
        }
    }
    out
}

fn doc_keys(doc: &ExampleDoc) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in &doc.sections {
        out.insert(s.name.clone());
        for k in &s.keys {
            out.insert(format!("{}.{}", s.name, k.name));
        }
    }
    out
}

/// ticketd.toml(5) names exactly the keys the parser knows: a new key
/// must be documented in the example (and so in the page), and the
/// example cannot document a key that does not exist.
#[test]
fn the_toml_page_documents_exactly_the_keys_the_parser_knows() {
    let doc = parse_example(EXAMPLE);
    let documented = doc_keys(&doc);
    let known = parser_keys();
    assert!(known.contains("store.path") && known.contains("rules.pattern"));
    let undocumented: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "config/ticketd.example.toml vs the parser:\n  keys the parser knows that the example \
         does not document (add them, commented, with a comment above): {undocumented:?}\n  \
         keys the example documents that the parser refuses: {unknown:?}"
    );
}

/// Every key the page shows, the commented-out ones too, is accepted by
/// the real parser (unknown keys are an error there).
#[test]
fn every_key_in_the_example_is_a_real_key_even_commented_out() {
    let active: String = EXAMPLE
        .lines()
        .map(|line| match classify(line) {
            Line::Key {
                name,
                value,
                set: false,
            } => format!("{name} = {value}\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    let doc = parse_example(&active);
    assert!(doc.sections.iter().all(|s| s.keys.iter().all(|k| k.set)));
    if let Err(problems) = Config::parse(&active, Path::new("/etc/ticketd")) {
        let refused: Vec<_> = problems
            .iter()
            .filter(|p| p.key == "(syntax)" || p.message.starts_with("unknown"))
            .collect();
        assert!(
            refused.is_empty(),
            "with its commented keys switched on, the example has keys the parser refuses: {refused:?}"
        );
    }
}

#[test]
fn every_key_and_section_in_the_example_says_what_it_is_for() {
    let doc = parse_example(EXAMPLE);
    assert!(
        !doc.intro.is_empty(),
        "the example lost its opening comment"
    );
    let mut bare = Vec::new();
    for s in &doc.sections {
        for k in &s.keys {
            if k.about.is_empty() {
                bare.push(format!("{}.{}", s.name, k.name));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "keys without a comment above them in config/ticketd.example.toml \
         (ticketd.toml(5) would say nothing about them): {bare:?}"
    );
}

#[test]
fn pages_cover_every_visible_subcommand_and_the_config() {
    let pages = pages().expect("pages render");
    let names: BTreeSet<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "ticketd.1",
        "ticketd-run.1",
        "ticketd-check-config.1",
        "ticketd-tickets.1",
        "ticketd-tickets-update.1",
        "ticketd-completions.1",
        "ticketd.toml.5",
    ] {
        assert!(names.contains(want), "{want} missing from {names:?}");
    }
    assert!(
        !names.contains("ticketd-man.1"),
        "the hidden `man` got a page"
    );
    assert!(!names.contains("ticketd-help.1"));
    for (name, text) in &pages {
        let text = std::str::from_utf8(text).expect("roff is ASCII");
        assert!(text.is_ascii(), "{name}: non-ASCII roff");
        assert!(
            text.lines().any(|l| l.starts_with(".TH ")),
            "{name}: no .TH"
        );
    }
    let run = pages
        .iter()
        .find(|(n, _)| n == "ticketd-run.1")
        .map(|(_, t)| String::from_utf8_lossy(t).into_owned())
        .unwrap_or_default();
    assert!(run.contains("config"), "global --config missing:\n{run}");
    let toml = toml_page(EXAMPLE);
    assert!(toml.contains(".SS \"[[portal.fields]]\""));
    assert!(toml.contains("\\fBmax_message_bytes\\fR = 52428800"));
    assert!(toml.contains("\\fBoncall\\fR (unset; for example"));
}

#[test]
fn write_all_writes_the_pages_into_a_new_folder() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("man");
    write_all(&dir).expect("written");
    for name in ["ticketd.1", "ticketd.toml.5"] {
        let len = std::fs::metadata(dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 500, "{name}: {len} bytes");
    }
}
