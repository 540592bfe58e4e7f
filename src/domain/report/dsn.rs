//! RFC 3464 status fields, and the status codes read from them or from text.

use super::*;

// RFC 3464 status fields

/// One `Name: value` field; the name lower-cased, continuation lines joined
/// by dropping the line break only (as RFC 5322 unfolding does).
#[derive(Debug, Clone)]
pub(super) struct Field {
    name: String,
    value: String,
}

/// A run of lines between blank lines: fields, or text that is not fields
/// (the base64 some relays leave inside a status part, prose).
#[derive(Debug)]
pub(super) enum Block {
    Fields(Vec<Field>),
    Text(String),
}

pub(super) fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut other = String::new();
    let flush = |fields: &mut Vec<Field>, other: &mut String, out: &mut Vec<Block>| {
        if !fields.is_empty() {
            out.push(Block::Fields(std::mem::take(fields)));
        } else if !other.trim().is_empty() {
            out.push(Block::Text(std::mem::take(other)));
        }
        other.clear();
    };
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            flush(&mut fields, &mut other, &mut out);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.value.push_str(line);
                continue;
            }
        }
        match line.split_once(':') {
            Some((name, value))
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                fields.push(Field {
                    name: name.to_ascii_lowercase(),
                    value: value.to_owned(),
                });
            }
            _ => {
                other.push_str(line);
                other.push('\n');
            }
        }
    }
    flush(&mut fields, &mut other, &mut out);
    for b in &mut out {
        if let Block::Fields(fs) = b {
            for f in fs {
                f.value = f.value.trim().to_owned();
            }
        }
    }
    out
}

pub(super) fn all_fields(text: &str) -> Vec<Field> {
    blocks(text)
        .into_iter()
        .flat_map(|b| match b {
            Block::Fields(f) => f,
            Block::Text(_) => Vec::new(),
        })
        .collect()
}

pub(super) fn field<'f>(fields: &'f [Field], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
        .filter(|v| !v.is_empty())
}

/// The per-recipient groups of a status part. Groups are normally separated
/// by blank lines, but some MTAs leave them out, so a second `Final-Recipient`
/// (or an `Original-Recipient` after a recipient) also starts a new group.
/// A text block right after a block declaring `Content-Transfer-Encoding:
/// base64` is decoded and read as more groups (seen from a mail relay that
/// re-encoded the status part in place). `depth` stops that from recursing.
pub(super) fn dsn_recipients(text: &str, depth: u8) -> Vec<RecipientStatus> {
    let mut out = Vec::new();
    let mut base64_next = false;
    for block in blocks(text) {
        match block {
            Block::Fields(fields) => {
                base64_next = field(&fields, "content-transfer-encoding")
                    .is_some_and(|v| v.eq_ignore_ascii_case("base64"));
                let mut group = RecipientStatus::default();
                let mut has_any = false;
                for f in &fields {
                    match f.name.as_str() {
                        "final-recipient" | "original-recipient" => {
                            let is_final = f.name == "final-recipient";
                            let new_group = if is_final {
                                group.final_recipient.is_some()
                            } else {
                                group.original_recipient.is_some()
                                    || (group.final_recipient.is_some()
                                        && (group.status.is_some() || group.action.is_some()))
                            };
                            if new_group && has_any {
                                push_group(&mut out, std::mem::take(&mut group));
                            }
                            has_any = true;
                            let addr = recipient_address(&f.value);
                            if is_final {
                                group.final_recipient = addr;
                            } else {
                                group.original_recipient = addr;
                            }
                        }
                        "action" => {
                            group.action = f
                                .value
                                .split_whitespace()
                                .next()
                                .map(|a| a.to_ascii_lowercase());
                            has_any = true;
                        }
                        "status" => {
                            group.status = status_code(&f.value);
                            has_any = true;
                        }
                        "diagnostic-code" => {
                            if !f.value.is_empty() {
                                group.diagnostic = Some(f.value.clone());
                            }
                            has_any = true;
                        }
                        _ => {}
                    }
                }
                if has_any {
                    push_group(&mut out, group);
                }
            }
            Block::Text(t) if base64_next && depth == 0 => {
                base64_next = false;
                let compact: Vec<u8> = t.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                if let Some(decoded) = mail_parser::decoders::base64::base64_decode(&compact) {
                    out.extend(dsn_recipients(
                        &String::from_utf8_lossy(&decoded),
                        depth + 1,
                    ));
                }
            }
            Block::Text(_) => base64_next = false,
        }
    }
    out
}

/// Keeps a group only if it names a recipient; fills in what the group
/// implies (a more specific status from the diagnostic, permanence).
pub(super) fn push_group(out: &mut Vec<RecipientStatus>, mut g: RecipientStatus) {
    if g.final_recipient.is_none() && g.original_recipient.is_none() {
        return;
    }
    if out.len() >= MAX_RECIPIENTS {
        return;
    }
    if let (Some(status), Some(diag)) = (&g.status, &g.diagnostic) {
        // "5.0.0" says only "permanent failure"; the remote server's own
        // reply in the diagnostic usually says which one.
        if status.ends_with(".0.0") {
            if let Some(specific) = reply_coded_status(diag) {
                if specific.as_bytes().first() == status.as_bytes().first() {
                    g.status = Some(specific);
                }
            }
        }
    }
    g.permanent = recipient_failure(&g) == Failure::Permanent;
    out.push(g);
}

/// `rfc822; <Someone@Example.com>` → `someone@example.com`.
pub(super) fn recipient_address(value: &str) -> Option<String> {
    let addr = value.split_once(';').map_or(value, |(_, a)| a).trim();
    let addr = addr.trim_start_matches('<').trim_end_matches('>').trim();
    looks_like_address(addr).then(|| addr.to_ascii_lowercase())
}

pub(super) fn looks_like_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !a.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    Permanent,
    Transient,
    Delivered,
    Unknown,
}

/// Status class first (RFC 3463), then `Action`, then the SMTP reply code
/// of the diagnostic.
pub(super) fn recipient_failure(g: &RecipientStatus) -> Failure {
    if let Some(class) = g.status.as_deref().and_then(|s| s.chars().next()) {
        return match class {
            '5' => Failure::Permanent,
            '4' => Failure::Transient,
            _ => Failure::Delivered,
        };
    }
    match g.action.as_deref() {
        Some("failed") => return Failure::Permanent,
        Some("delayed") => return Failure::Transient,
        Some("delivered" | "relayed" | "expanded") => return Failure::Delivered,
        _ => {}
    }
    if let Some(m) = g.diagnostic.as_deref().and_then(|d| REPLY_CODE.captures(d)) {
        return match m.get(1).map(|c| c.as_str()) {
            Some("5") => Failure::Permanent,
            Some("4") => Failure::Transient,
            _ => Failure::Unknown,
        };
    }
    Failure::Unknown
}

// ---------------------------------------------------------------------------
// Status codes in text

pub(super) static STATUS_FIELD: LazyLock<Regex> =
    LazyLock::new(|| re(r"^\s*([245]\.\d{1,3}\.\d{1,3})"));
pub(super) static ENHANCED: LazyLock<Regex> = LazyLock::new(|| re(r"[245]\.\d{1,3}\.\d{1,3}"));
pub(super) static REPLY_CODED: LazyLock<Regex> =
    LazyLock::new(|| re(r#"\b([245])\d\d[ -]['"]?([245])(\.\d{1,3}\.\d{1,3})"#));
pub(super) static QMAIL_CODE: LazyLock<Regex> =
    LazyLock::new(|| re(r"\(#([245]\.\d{1,3}\.\d{1,3})\)"));
pub(super) static REPLY_CODE: LazyLock<Regex> = LazyLock::new(|| re(r"\b([245])\d\d\b"));

/// Compiles one of this module's constant patterns. They are not data: the
/// `every_pattern_compiles` test forces each of them, so this cannot fail on
/// any input mail.
pub(super) fn re(pattern: &str) -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("constant regular expression")
}

/// `5.0.0 (permanent failure)` → `5.0.0`.
pub(super) fn status_code(value: &str) -> Option<String> {
    STATUS_FIELD
        .captures(value)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
}

/// True when the match at `start..end` stands alone (not a piece of an IP
/// address or a longer dotted number).
pub(super) fn standalone(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let mut after = text[end..].chars();
    let a1 = after.next();
    let a2 = after.next();
    let before_ok = !before.is_some_and(|c| c.is_ascii_digit() || c == '.');
    let after_ok = match a1 {
        Some(c) if c.is_ascii_digit() => false,
        Some('.') => !a2.is_some_and(|c| c.is_ascii_digit()),
        _ => true,
    };
    before_ok && after_ok
}

/// An enhanced code that directly follows an SMTP reply code of the same
/// class (`550 5.1.1`, `550-5.1.1`, `550-'5.7.1`): the remote server's own
/// word, better than any summary around it.
pub(super) fn reply_coded_status(text: &str) -> Option<String> {
    let mut pos = 0;
    while let Some(c) = REPLY_CODED.captures_at(text, pos) {
        let (Some(all), Some(class), Some(code_class), Some(rest)) =
            (c.get(0), c.get(1), c.get(2), c.get(3))
        else {
            break;
        };
        if class.as_str() == code_class.as_str() && standalone(text, code_class.start(), rest.end())
        {
            return Some(format!("{}{}", code_class.as_str(), rest.as_str()));
        }
        pos = next_char(text, all.start());
    }
    None
}

pub(super) fn next_char(text: &str, i: usize) -> usize {
    text[i..]
        .chars()
        .next()
        .map_or(text.len(), |c| i + c.len_utf8())
}

/// Best enhanced status code in free text: reply-coded, then qmail's
/// `(#5.5.0)`, then any standalone one.
pub(super) fn text_status(text: &str) -> Option<String> {
    if let Some(s) = reply_coded_status(text) {
        return Some(s);
    }
    if let Some(m) = QMAIL_CODE.captures(text).and_then(|c| c.get(1)) {
        return Some(m.as_str().to_owned());
    }
    let mut pos = 0;
    while let Some(m) = ENHANCED.find_at(text, pos) {
        if standalone(text, m.start(), m.end()) {
            return Some(m.as_str().to_owned());
        }
        pos = next_char(text, m.start());
    }
    None
}
