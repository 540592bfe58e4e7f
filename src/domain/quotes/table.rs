//! The language table (`languages.toml`): the words mail clients write
//! around a quoted message, per language, read once and turned into the
//! patterns the stages match. Kept as data so a language is added by
//! editing the table (and a fixture), not the rules.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::regex;

/// The table as written, embedded in the binary: nothing is read at run time.
const SOURCE: &str = include_str!("languages.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    devices: Vec<String>,
    banners: Vec<String>,
    footers: Vec<String>,
    language: Vec<Language>,
}

/// One language's words (see the comment atop `languages.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Language {
    /// The language's code and name: for people reading the table and for
    /// the tests' messages; the rules do not look at them.
    #[allow(dead_code)]
    code: String,
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    wrote: Vec<String>,
    #[serde(default)]
    on: Vec<String>,
    #[serde(default)]
    on_exact: Vec<String>,
    #[serde(default)]
    lead: Vec<String>,
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    sent: Vec<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    cc: Vec<String>,
    #[serde(default)]
    subject: Vec<String>,
    #[serde(default)]
    original: Vec<String>,
    #[serde(default)]
    forwarded: Vec<String>,
    #[serde(default)]
    forward_intro: Vec<String>,
    #[serde(default)]
    mobile: Vec<String>,
}

/// A header field as far as recognising a header block goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    From,
    Date,
    To,
    Cc,
    Subject,
    Other,
}

/// Everything the stages match, built from the table once.
pub(super) struct Words {
    /// Every "wrote" phrase, found anywhere: [`Words::has_wrote`] checks
    /// that a match is a whole word. (Word boundaries written into one
    /// pattern of a few hundred phrases make the regex engine's lazy DFA
    /// overflow its cache and fall back to a slow search: checked by hand.)
    wrote: Regex,
    /// The same, closing the line (a "-----" or bold stars may follow).
    wrote_end: Regex,
    /// "On", "Am", "Le", … at the start of a line, followed by a space.
    pub(super) starter: Regex,
    /// "Wiadomość napisana przez" at the start of a line.
    pub(super) lead: Regex,
    /// "-----Original Message-----" and its translations.
    pub(super) original: Regex,
    /// "---------- Forwarded message ---------", "Begin forwarded message:".
    pub(super) forwarded: Regex,
    /// A dashed separator with more text after it on the same line.
    run_together: Regex,
    /// Header-field names (lower case, without a final full stop).
    fields: HashMap<String, Field>,
    /// The mobile signatures, in the form [`mobile_form`] gives a line.
    mobile: Vec<Template>,
    devices: Vec<String>,
    banners: Vec<String>,
    footers: Vec<String>,
}

/// A mobile signature: the words before and after its `*` (lower case, one
/// space between words); without a `*`, the whole phrase in `prefix`.
struct Template {
    prefix: String,
    suffix: Option<String>,
}

/// "2.5.2022", "2022-05-02", "02/05/22" right at the start.
static NUMERIC_DATE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\s+\d{1,4}[./\-]\d{1,2}[./\-]\d{2,4}\b"));

pub(super) static WORDS: LazyLock<Words> = LazyLock::new(|| {
    // The table is part of the program; its tests parse it, so a mistake in
    // it fails there.
    let table: Table = toml::from_str(SOURCE).expect("languages.toml parses");
    Words::build(table)
});

/// Scripts written without spaces between words: a phrase in them is found
/// anywhere, not as a whole word.
fn unspaced(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0E7F}'      // Thai
        | '\u{3040}'..='\u{30FF}'    // kana
        | '\u{3400}'..='\u{9FFF}'    // CJK
        | '\u{AC00}'..='\u{D7AF}'    // Hangul
        | '\u{F900}'..='\u{FAFF}')
}

/// A letter or digit of a script written with spaces: a phrase touching
/// one is part of a longer word.
fn word_char(c: char) -> bool {
    c.is_alphanumeric() && !unspaced(c)
}

/// No letter of a spaced script right before `at` (or the match starts
/// with a letter of an unspaced one).
fn bounded_before(s: &str, at: usize) -> bool {
    let next = s[at..].chars().next();
    let prev = s[..at].chars().next_back();
    next.is_some_and(unspaced) || !prev.is_some_and(word_char)
}

/// No letter of a spaced script right after `at`, when the match ends with
/// one.
fn bounded_after(s: &str, at: usize) -> bool {
    let last = s[..at].chars().next_back();
    let next = s[at..].chars().next();
    !last.is_some_and(word_char) || !next.is_some_and(word_char)
}

/// A phrase as a pattern: spaces match any white space, an apostrophe
/// either apostrophe, and an accented Latin letter also its
/// quoted-printable form.
fn phrase(p: &str) -> String {
    let mut out = String::new();
    let mut space = false;
    for c in p.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            out.push_str(r"\s+");
            space = false;
        }
        match c {
            '\'' | '’' => out.push_str("['’]"),
            // Quoted-printable leftovers are only seen of accented Latin
            // letters; other scripts are matched as written.
            c if !('\u{C0}'..='\u{24F}').contains(&c) => {
                out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])))
            }
            c => {
                let mut buf = [0; 4];
                let lit = c.encode_utf8(&mut buf);
                let qp: String = lit.bytes().map(|b| format!("={b:02X}")).collect();
                out.push_str(&format!("(?:{}|{qp})", regex::escape(lit)));
            }
        }
    }
    out
}

/// An alternation of phrases, longest first (so "napisał(a)" wins over
/// "napisał").
fn alternation(list: &[&String]) -> String {
    let mut list: Vec<&String> = list.to_vec();
    list.sort_by_key(|p| std::cmp::Reverse(p.chars().count()));
    list.dedup();
    let parts: Vec<String> = list.iter().map(|p| phrase(p)).collect();
    format!("(?:{})", parts.join("|"))
}

/// A short line as the mobile templates are compared with it: lower case,
/// one apostrophe, one space between words, without the brackets, stars and
/// full stop around it.
fn mobile_form(line: &str) -> String {
    let t = line
        .trim_start_matches(|c: char| c.is_whitespace() || "(<*[".contains(c))
        .trim_end_matches(|c: char| c.is_whitespace() || ".!)>*]".contains(c));
    let mut out = String::with_capacity(t.len());
    for w in t.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().map(|c| if c == '’' { '\'' } else { c }));
    }
    out.to_lowercase()
}

/// Text as the banner and footer phrases are compared with it: lower case,
/// one apostrophe, one space between words.
pub(super) fn normal_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for w in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().map(|c| if c == '’' { '\'' } else { c }));
    }
    out.to_lowercase()
}

fn template(t: &str) -> Template {
    let marked = mobile_form(&t.replace('*', "\u{1}"));
    match marked.split_once('\u{1}') {
        Some((pre, post)) => Template {
            prefix: pre.to_owned(),
            suffix: Some(post.to_owned()),
        },
        None => Template {
            prefix: marked,
            suffix: None,
        },
    }
}

impl Words {
    fn build(table: Table) -> Words {
        let all = |f: fn(&Language) -> &Vec<String>| -> Vec<&String> {
            table.language.iter().flat_map(f).collect()
        };
        let wrote = alternation(&all(|l| &l.wrote));
        let on = alternation(&all(|l| &l.on));
        let on_exact = alternation(&all(|l| &l.on_exact));
        let mut fields = HashMap::new();
        for l in &table.language {
            let kinds = [
                (&l.from, Field::From),
                (&l.sent, Field::Date),
                (&l.to, Field::To),
                (&l.cc, Field::Cc),
                (&l.subject, Field::Subject),
            ];
            for (names, kind) in kinds {
                for n in names {
                    fields.entry(field_key(n)).or_insert(kind);
                }
            }
        }
        Words {
            wrote: regex(&format!("(?i){wrote}")),
            wrote_end: regex(&format!(r"(?i){wrote}[\s\-*]*$")),
            starter: regex(&format!(r"^(?:(?i:{on})|{on_exact})\s")),
            lead: regex(&format!(r"(?i)^{}\s", alternation(&all(|l| &l.lead)))),
            original: regex(&format!(
                r"(?i)^[\s*_]*-{{2,}}\s*{}\s*-*[\s*_]*$",
                alternation(&all(|l| &l.original))
            )),
            forwarded: regex(&format!(
                r"(?i)^[\s*]*(?:-{{2,}}\s*{}\s*-*|{}\s*[:：])[\s*]*$",
                alternation(&all(|l| &l.forwarded)),
                alternation(&all(|l| &l.forward_intro)),
            )),
            run_together: regex(&format!(
                r"(?i)^([\s*_]*-{{2,}}\s*(?:{}|{})\s*-{{2,}}[\s*_]*)([^\s\-*_=].*)$",
                alternation(&all(|l| &l.original)),
                alternation(&all(|l| &l.forwarded)),
            )),
            fields,
            mobile: all(|l| &l.mobile).iter().map(|t| template(t)).collect(),
            devices: lower(&table.devices),
            banners: lower(&table.banners),
            footers: lower(&table.footers),
        }
    }

    /// "-------- Ursprüngliche Nachricht --------Von: …": the separator and
    /// what follows it on the line.
    pub(super) fn run_together<'a>(&self, line: &'a str) -> Option<(&'a str, &'a str)> {
        let c = self.run_together.captures(line)?;
        Some((c.get(1)?.as_str(), c.get(2)?.as_str()))
    }

    /// The kind of a header-field name ("Von", "Wysłano", "件名").
    pub(super) fn field(&self, key: &str) -> Field {
        self.fields
            .get(&field_key(key))
            .copied()
            .unwrap_or(Field::Other)
    }

    /// Does the line hold a "wrote" phrase as a whole word ("skrev", not
    /// the end of "beskrev")?
    pub(super) fn has_wrote(&self, s: &str) -> bool {
        self.wrote
            .find_iter(s)
            .any(|m| bounded_before(s, m.start()) && bounded_after(s, m.end()))
    }

    /// Is a "wrote" phrase followed directly by a numeric date ("Ann
    /// kirjoitti 2.5.2022 klo 10.00:", Thunderbird's form in Finnish)?
    pub(super) fn wrote_then_date(&self, s: &str) -> bool {
        self.wrote.find_iter(s).any(|m| {
            bounded_before(s, m.start())
                && bounded_after(s, m.end())
                && NUMERIC_DATE.is_match(&s[m.end()..])
        })
    }

    /// Does the line end with a "wrote" phrase (a "-----" or stars after it
    /// allowed)?
    pub(super) fn ends_with_wrote(&self, s: &str) -> bool {
        let mut from = 0;
        while let Some(m) = self.wrote_end.find_at(s, from) {
            if bounded_before(s, m.start()) {
                return true;
            }
            // A phrase inside a longer word: a later start may still be one.
            from = m.start() + s[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
        false
    }

    /// Is the (short) line one of the table's mobile signatures, its `*`
    /// a device or app name?
    pub(super) fn is_mobile(&self, line: &str) -> bool {
        let line = mobile_form(line);
        self.mobile.iter().any(|t| match &t.suffix {
            None => line == t.prefix,
            Some(suffix) => {
                let end = line.len().saturating_sub(suffix.len());
                end > t.prefix.len()
                    && line.starts_with(&t.prefix)
                    && line.ends_with(suffix.as_str())
                    && line.is_char_boundary(end)
                    && self.is_device(&line[t.prefix.len()..end])
            }
        })
    }

    /// Is this paragraph (lower case, one space between words) a gateway's
    /// "external sender" banner?
    pub(super) fn is_banner(&self, paragraph: &str) -> bool {
        holds(paragraph, &self.banners)
    }

    /// Is this paragraph a confidentiality or marketing footer?
    pub(super) fn is_footer(&self, paragraph: &str) -> bool {
        holds(paragraph, &self.footers)
    }

    /// A device or app name: it names one of the table's devices and reads
    /// like a name, not a clause.
    fn is_device(&self, s: &str) -> bool {
        !s.contains([',', ';', '!', '?'])
            && s.chars().count() <= 40
            && s.split_whitespace().count() <= 6
            && self.devices.iter().any(|d| s.contains(d.as_str()))
    }
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter().map(|d| d.to_lowercase()).collect()
}

/// Does `text` (lower case, one space between words) hold one of `phrases`?
fn holds(text: &str, phrases: &[String]) -> bool {
    phrases.iter().any(|p| text.contains(p.as_str()))
}

fn field_key(name: &str) -> String {
    name.trim().trim_end_matches('.').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_covers_thirty_languages() {
        let table: Table = toml::from_str(SOURCE).expect("languages.toml parses");
        assert!(table.language.len() >= 30, "{}", table.language.len());
        for l in &table.language {
            let has = |v: &Vec<String>| !v.is_empty();
            assert!(
                has(&l.wrote) || has(&l.lead),
                "{}: no attribution words",
                l.code
            );
            for (what, v) in [
                ("from", &l.from),
                ("sent", &l.sent),
                ("to", &l.to),
                ("subject", &l.subject),
                ("original", &l.original),
                ("forwarded", &l.forwarded),
                ("mobile", &l.mobile),
            ] {
                assert!(has(v), "{}: no {what}", l.code);
            }
        }
    }

    #[test]
    fn a_field_name_means_one_thing_in_every_language() {
        let table: Table = toml::from_str(SOURCE).expect("languages.toml parses");
        let mut seen: HashMap<String, (Field, &str)> = HashMap::new();
        for l in &table.language {
            for (names, kind) in [
                (&l.from, Field::From),
                (&l.sent, Field::Date),
                (&l.to, Field::To),
                (&l.cc, Field::Cc),
                (&l.subject, Field::Subject),
            ] {
                for n in names {
                    if let Some((k, other)) = seen.insert(field_key(n), (kind, &l.code)) {
                        assert_eq!(k, kind, "{n:?}: {other} and {} disagree", l.code);
                    }
                }
            }
        }
    }

    #[test]
    fn phrases_become_patterns() {
        let re = regex(&format!("^{}$", phrase("a écrit")));
        assert!(re.is_match("a écrit"));
        assert!(re.is_match("a  =C3=A9crit"));
        assert!(!re.is_match("a ecrit"));
        let re = regex(&format!("^{}$", phrase("iOS için Outlook'u edinin")));
        assert!(re.is_match("iOS için Outlook’u edinin"));
    }

    #[test]
    fn mobile_signatures_need_a_device() {
        let cases = [
            ("Sent from my iPhone", true),
            ("Lähetetty iPhonesta", true),
            ("Az iPhone-omról küldve", true),
            ("Verzonden vanuit Outlook voor iOS", true),
            ("Obter o Outlook para Android", true),
            ("أُرسلت من الـ iPhone", true),
            ("Sent from my desk", false),
            ("Sent via FedEx yesterday", false),
            ("Inviato da Roma", false),
        ];
        for (line, want) in cases {
            assert_eq!(WORDS.is_mobile(line), want, "{line}");
        }
    }
}
