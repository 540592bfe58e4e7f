//! Raw bytes → `InboundMessage`, through mail-parser. Oddities are data: a
//! broken charset or a missing part never fails here; only a mail that has
//! nothing ticketd can act on (no parseable structure, no sender) is refused,
//! and the caller quarantines it with its raw bytes.

use std::borrow::Cow;

use mail_parser::{Address, HeaderName, HeaderValue, MessageParser, MimeHeaders, PartType};

use super::classify::Signals;
use super::message::{Attachment, InboundMessage, Mailbox, MAX_AUTH_RESULTS};
use super::time::Timestamp;
use super::{html, quotes};

mod charset;

/// Why a mail cannot become an `InboundMessage` (it is quarantined instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error("empty message")]
    Empty,
    #[error("not an RFC 5322 message: no header could be parsed")]
    Unparseable,
    #[error("no sender: the message has no usable From address")]
    NoSender,
}

/// Options that come from the config, decided once at start.
#[derive(Debug, Clone, Copy)]
pub struct NormalizeOptions {
    /// Keep every header (only needed when a rule reads `header:<Name>`).
    pub keep_headers: bool,
    /// Attachments taken from one mail (`store.max_attachments`); the rest
    /// are counted, not decoded or stored.
    pub max_attachments: usize,
}

impl Default for NormalizeOptions {
    fn default() -> NormalizeOptions {
        NormalizeOptions {
            keep_headers: false,
            max_attachments: 100,
        }
    }
}

/// Parses `raw` (already through [`super::rawmail::normalize_line_endings`]) into an `InboundMessage`.
pub fn normalize<'a>(
    raw: &'a [u8],
    opts: NormalizeOptions,
) -> Result<InboundMessage<'a>, NormalizeError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(NormalizeError::Empty);
    }
    let mut msg = MessageParser::default()
        .parse(raw)
        .ok_or(NormalizeError::Unparseable)?;
    if msg.headers().is_empty() {
        return Err(NormalizeError::Unparseable);
    }
    let from = msg
        .from()
        .and_then(first_mailbox)
        .or_else(|| msg.sender().and_then(first_mailbox));
    let signals = Signals::from_message(&msg);
    // A bounce or auto-reply without From is still classified (and ignored);
    // only ordinary mail needs a sender to become a ticket.
    let from = match from {
        Some(f) => Some(f),
        None if signals.report.is_some() => None,
        None => return Err(NormalizeError::NoSender),
    };

    let subject = msg
        .subject()
        .map(one_line)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(no subject)".to_owned());
    let message_id = msg.message_id().map(clean_id).filter(|s| !s.is_empty());
    let in_reply_to = ids(msg.in_reply_to());
    let references = ids(msg.references());
    let to = mailboxes(msg.to());
    let cc = mailboxes(msg.cc());
    let mut envelope_to = Vec::new();
    for name in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
    ] {
        for v in msg.header_values(HeaderName::Other(name.into())) {
            if let Some(t) = v.as_text() {
                envelope_to.push(super::model::normalize_email(t));
            }
        }
    }
    let date = msg.date().map(|d| Timestamp(d.to_timestamp()));
    let from_count = msg
        .header_values(HeaderName::From)
        .map(|v| match v {
            HeaderValue::Address(a) => a.iter().count().max(1),
            _ => 1,
        })
        .sum();
    let auth_results = msg
        .headers_raw()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Authentication-Results"))
        .take(MAX_AUTH_RESULTS)
        .map(|(_, v)| v.to_owned())
        .collect();
    let headers = if opts.keep_headers {
        msg.headers_raw()
            .map(|(n, v)| (n.to_owned(), one_line(v)))
            .collect()
    } else {
        Vec::new()
    };

    let sender = from.as_ref().map(|m| m.email.as_str());
    let root_text = unsplit_multipart(&msg);
    let (text, visible) = match root_text {
        Some(t) => {
            let fixed = msg
                .parts
                .first()
                .and_then(|p| charset::redecode(msg.raw_message(), p, false));
            let text = clean_text(fixed.as_deref().unwrap_or(t));
            let visible = quotes::visible_text_explained(&text, sender);
            (text, visible)
        }
        None => bodies(&msg, sender),
    };
    let quotes::Visible {
        text: visible,
        notes: visible_notes,
    } = visible;

    // A multipart body read as the text is not an attachment as well.
    let attachment_ids: Vec<u32> = msg
        .attachments
        .iter()
        .copied()
        .filter(|&id| !(root_text.is_some() && id == 0))
        .collect();
    let attachments_dropped = attachment_ids.len().saturating_sub(opts.max_attachments);
    let mut attachments = Vec::with_capacity(attachment_ids.len().min(opts.max_attachments));
    for (n, id) in attachment_ids
        .into_iter()
        .take(opts.max_attachments)
        .enumerate()
    {
        let Some(part) = msg.parts.get_mut(id as usize) else {
            continue;
        };
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned())
            .to_ascii_lowercase();
        let name = part.attachment_name().map(str::to_owned);
        let data: Cow<'a, [u8]> = match std::mem::take(&mut part.body) {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) | PartType::Html(t) => match t {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            },
            PartType::Message(m) => Cow::Owned(m.raw_message().to_vec()),
            PartType::Multipart(_) => continue,
        };
        let fallback = match content_type.as_str() {
            "message/rfc822" => format!("message-{}.eml", n + 1),
            _ => format!("attachment-{}", n + 1),
        };
        attachments.push(Attachment {
            filename: sanitize_filename(name.as_deref(), &fallback),
            content_type,
            sha256: super::digest::sha256_hex(&data),
            data,
        });
    }

    Ok(InboundMessage {
        message_id,
        in_reply_to,
        references,
        from,
        from_count,
        to,
        cc,
        envelope_to,
        subject,
        date,
        text,
        visible,
        visible_notes,
        attachments,
        attachments_dropped,
        signals,
        auth_results,
        headers,
        source: super::model::Source::Email,
    })
}

/// The text of a message that declares a multipart type but whose body
/// never uses its boundary: mail-parser keeps such a body whole as one part
/// and lists it as an attachment, so the customer's words would be lost
/// from the ticket. When the message has no text or HTML body of its own,
/// that part is its text.
fn unsplit_multipart<'m>(msg: &'m mail_parser::Message<'_>) -> Option<&'m str> {
    if !msg.text_body.is_empty() || !msg.html_body.is_empty() {
        return None;
    }
    let root = msg.parts.first()?;
    let multipart = root
        .content_type()
        .is_some_and(|ct| ct.ctype().eq_ignore_ascii_case("multipart"));
    match &root.body {
        PartType::Text(t) if multipart && !t.trim().is_empty() => Some(t.as_ref()),
        _ => None,
    }
}

/// The full text and the visible new text. Plain text wins; an HTML-only
/// mail is converted, with its quoted history dropped before conversion.
fn bodies(msg: &mail_parser::Message<'_>, sender: Option<&str>) -> (String, quotes::Visible) {
    let mut plain = String::new();
    let mut html_src: Option<Cow<'_, str>> = None;
    for part in msg.text_bodies() {
        match &part.body {
            PartType::Text(t) => {
                if !plain.is_empty() {
                    plain.push('\n');
                }
                match charset::redecode(msg.raw_message(), part, false) {
                    Some(fixed) => plain.push_str(&fixed),
                    None => plain.push_str(t),
                }
            }
            PartType::Html(h) if html_src.is_none() => html_src = Some(html_text(msg, part, h)),
            _ => {}
        }
    }
    if plain.trim().is_empty() {
        if let Some(h) = html_src.or_else(|| {
            msg.html_bodies().find_map(|p| match &p.body {
                PartType::Html(h) => Some(html_text(msg, p, h)),
                _ => None,
            })
        }) {
            let text = clean_text(&html::html_to_text(&h));
            let visible = quotes::Visible {
                text: clean_text(&html::html_reply_text(&h)),
                notes: Vec::new(),
            };
            return (text, visible);
        }
    }
    let text = clean_text(&plain);
    let visible = quotes::visible_text_explained(&text, sender);
    (text, visible)
}

/// An HTML part's text, decoded again when its charset label is missing
/// or wrong (see `charset`).
fn html_text<'m>(
    msg: &'m mail_parser::Message<'_>,
    part: &'m mail_parser::MessagePart<'_>,
    decoded: &'m str,
) -> Cow<'m, str> {
    match charset::redecode(msg.raw_message(), part, true) {
        Some(fixed) => Cow::Owned(fixed),
        None => Cow::Borrowed(decoded),
    }
}

/// Drops NULs and other control characters that have no place in text.
pub fn clean_text(s: &str) -> String {
    if !s
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return s.replace("\r\n", "\n");
    }
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

fn first_mailbox(a: &Address<'_>) -> Option<Mailbox> {
    a.iter().find_map(to_mailbox)
}

fn mailboxes(a: Option<&Address<'_>>) -> Vec<Mailbox> {
    a.map(|a| a.iter().filter_map(to_mailbox).collect())
        .unwrap_or_default()
}

fn to_mailbox(a: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let mut email = super::model::normalize_email(a.address()?);
    // mail-parser reads the quoted local part of `"carl"@acme.test` as a
    // display name and leaves "@acme.test": put it back, when it is a
    // plain local part.
    if let (Some(domain), Some(local)) = (email.strip_prefix('@'), a.name()) {
        let local = local.trim().trim_matches('"');
        if local.is_empty() || local.contains(|c: char| c.is_whitespace() || c == '@' || c == '"') {
            return None;
        }
        email = format!("{}@{domain}", local.to_ascii_lowercase());
        return valid_email(&email).then_some(Mailbox { email, name: None });
    }
    if !valid_email(&email) {
        return None;
    }
    let name = a
        .name()
        .map(one_line)
        .filter(|n| !n.is_empty() && *n != email);
    Some(Mailbox { email, name })
}

/// A usable address: something before and after one `@`, no spaces or controls.
fn valid_email(email: &str) -> bool {
    email
        .rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Unicode's invisible direction controls (U+202A–202E, U+2066–2069, the
/// marks U+200E/200F, U+061C): they make `invoice<U+202E>fdp.exe` read as
/// `invoiceexe.pdf`. They have no place in a subject, a name or a file name.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Header text on one line: CR, LF and other controls become spaces, so a
/// name or subject can never inject a header into mail ticketd sends.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().filter(|c| !is_bidi_control(*c)) {
        if c.is_control() || c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

fn clean_id(id: &str) -> String {
    one_line(id.trim().trim_start_matches('<').trim_end_matches('>'))
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

/// A safe file name: the last path component, no control characters, no
/// leading dots, at most 120 characters; `fallback` when nothing is left.
pub fn sanitize_filename(name: Option<&str>, fallback: &str) -> String {
    let name = name.unwrap_or("");
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .map(|c| {
            if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let cleaned: String = cleaned.chars().take(120).collect();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<InboundMessage<'_>, NormalizeError> {
        normalize(raw.as_bytes(), NormalizeOptions::default())
    }

    #[test]
    fn reads_addresses_ids_and_subject() {
        let m = parse(
            "From: \"Ann Smith\" <Ann@Customer.TEST>\r\nTo: support@example.test\r\nCc: Bob <bob@customer.test>, carol@x.test\r\nSubject: =?utf-8?q?Caf=C3=A9?= broken\r\nMessage-ID: <abc@customer.test>\r\nIn-Reply-To: <n1@example.test>\r\nReferences: <r0@x> <n1@example.test>\r\n\r\nHello\r\n",
        )
        .expect("parses");
        assert_eq!(
            m.from.as_ref().map(|f| f.email.as_str()),
            Some("ann@customer.test")
        );
        assert_eq!(
            m.from.as_ref().and_then(|f| f.name.as_deref()),
            Some("Ann Smith")
        );
        assert_eq!(m.cc.len(), 2);
        assert_eq!(m.subject, "Café broken");
        assert_eq!(m.message_id.as_deref(), Some("abc@customer.test"));
        assert_eq!(
            m.referenced_ids().collect::<Vec<_>>(),
            ["n1@example.test", "n1@example.test", "r0@x"]
        );
        assert_eq!(m.visible, "Hello");
    }

    #[test]
    fn names_and_subjects_cannot_carry_newlines() {
        let m = parse("From: =?utf-8?q?Eve=0D=0ABcc=3A_x=40evil=2Etest?= <eve@x.test>\nSubject: =?utf-8?q?a=0D=0ABcc=3A_y?=\n\nhi\n")
            .expect("parses");
        assert_eq!(
            m.from.and_then(|f| f.name).as_deref(),
            Some("Eve Bcc: x@evil.test")
        );
        assert_eq!(m.subject, "a Bcc: y");
    }

    #[test]
    fn unusable_mail_is_an_error_not_a_panic() {
        assert_eq!(parse("").err(), Some(NormalizeError::Empty));
        assert_eq!(parse("\r\n\r\n").err(), Some(NormalizeError::Empty));
        assert_eq!(
            parse("Subject: x\n\nno sender\n").err(),
            Some(NormalizeError::NoSender)
        );
    }

    #[test]
    fn quoted_local_parts_and_direction_controls() {
        let m = parse(
            "From: \"carl\"@Acme.test\nTo: support@example.test\nSubject: In\u{202E}voice\n\nhi\n",
        )
        .expect("parses");
        assert_eq!(m.from.map(|f| f.email).as_deref(), Some("carl@acme.test"));
        assert_eq!(m.subject, "Invoice");
        assert_eq!(
            parse("From: \"two words\"@acme.test\nSubject: x\n\nhi\n").err(),
            Some(NormalizeError::NoSender),
            "never the user @acme.test"
        );
        assert_eq!(
            sanitize_filename(Some("invoice\u{202E}fdp.exe"), "f"),
            "invoicefdp.exe"
        );
    }

    #[test]
    fn attachment_names_lose_paths_and_controls() {
        let cases = [
            (Some("../../etc/passwd"), "passwd"),
            (Some("C:\\Users\\x\\report.pdf"), "report.pdf"),
            (Some("a\u{0}b\nc.txt"), "abc.txt"),
            (Some(".."), "fallback"),
            (Some(".bashrc"), "bashrc"),
            (None, "fallback"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_filename(input, "fallback"), want, "{input:?}");
        }
    }
}
