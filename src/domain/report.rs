//! Machine-written reports about mail ticketd sent: delivery-status
//! notifications (RFC 3464), the plain-text bounces many MTAs still send
//! instead, abuse/feedback reports (ARF, RFC 5965) and read receipts (MDN,
//! RFC 8098).
//!
//! A report must never become a ticket, and for a bounce ticketd wants three
//! facts: which recipients failed, whether the failure is permanent, and the
//! Message-ID of the returned message — that is how it finds which of its own
//! notifications bounced. Real reports are messy (empty or missing status
//! parts, status fields without the blank lines RFC 3464 requires, base64
//! inside a status part, bounces that are plain text in a dozen dialects), so
//! every fact has a structured source and a textual fallback. Nothing here
//! panics or indexes unchecked: the input is whatever arrived in the mailbox.

use std::sync::LazyLock;

use mail_parser::{HeaderName, HeaderValue, Message, MessagePart, MimeHeaders, PartType};
use regex::Regex;

/// What kind of report a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `multipart/report; report-type=delivery-status` (or a bare
    /// `message/delivery-status`).
    DeliveryStatus,
    /// A bounce in free text from a mailer daemon or postmaster.
    NonStandardBounce,
    /// An ARF abuse / feedback-loop report.
    Feedback,
    /// A message disposition notification (read receipt).
    ReadReceipt,
}

impl ReportKind {
    /// Bounces concern delivery; feedback reports and read receipts do not.
    pub fn is_bounce(self) -> bool {
        matches!(
            self,
            ReportKind::DeliveryStatus | ReportKind::NonStandardBounce
        )
    }
}

/// One recipient a report speaks about (one RFC 3464 per-recipient group, or
/// one address found in a plain-text bounce).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientStatus {
    /// `Original-Recipient`, lower-cased: the address as the sender wrote it,
    /// which is what ticketd compares with the recipients of its notification.
    pub original_recipient: Option<String>,
    /// `Final-Recipient` (or the address a text bounce names), lower-cased.
    pub final_recipient: Option<String>,
    /// `Action`, lower-cased (`failed`, `delayed`, `delivered`, ...).
    pub action: Option<String>,
    /// Enhanced status code, e.g. `5.1.1`.
    pub status: Option<String>,
    /// `Diagnostic-Code` (unfolded), or the remote server's reply line.
    pub diagnostic: Option<String>,
    /// Delivery to this recipient failed for good.
    pub permanent: bool,
}

impl RecipientStatus {
    /// Original recipient first (it is what was sent), then the final one.
    fn addresses(&self) -> impl Iterator<Item = &String> {
        self.original_recipient.iter().chain(
            self.final_recipient
                .iter()
                .filter(move |f| self.original_recipient.as_ref() != Some(*f)),
        )
    }
}

/// What ticketd needs to know about a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub kind: ReportKind,
    /// Lower-cased addresses that were not delivered. When the report is
    /// permanent, only the recipients that failed permanently.
    pub failed_recipients: Vec<String>,
    /// Enhanced status code of the (first permanently) failed recipient.
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// Message-ID of the message the report is about, without `<>`.
    pub original_message_id: Option<String>,
    /// At least one recipient failed for good (status class 5, or no status
    /// and the report says the failure is final).
    pub permanent: bool,
    /// Every recipient the report names, in report order.
    pub recipients: Vec<RecipientStatus>,
    /// ARF `Feedback-Type` (`abuse`, `fraud`, ...), lower-cased.
    pub feedback_type: Option<String>,
    /// MDN `Disposition` field, as written.
    pub disposition: Option<String>,
}

impl DeliveryReport {
    fn new(kind: ReportKind) -> Self {
        DeliveryReport {
            kind,
            failed_recipients: Vec::new(),
            status: None,
            diagnostic: None,
            original_message_id: None,
            permanent: false,
            recipients: Vec::new(),
            feedback_type: None,
            disposition: None,
        }
    }
}

/// Reads `msg` as a report; `None` for every other kind of mail.
pub fn delivery_report(msg: &Message<'_>) -> Option<DeliveryReport> {
    let root = msg.parts.first()?;
    let structured = match root.content_type() {
        Some(ct) if ct.ctype().eq_ignore_ascii_case("multipart") => {
            if ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            {
                let declared = ct.attribute("report-type").and_then(kind_named);
                declared.or_else(|| inferred_kind(msg))
            } else {
                None
            }
        }
        Some(ct) if ct.ctype().eq_ignore_ascii_case("message") => ct.subtype().and_then(kind_named),
        _ => None,
    };
    match structured {
        Some(ReportKind::DeliveryStatus) => Some(delivery_status(msg)),
        Some(ReportKind::Feedback) => Some(feedback(msg)),
        Some(ReportKind::ReadReceipt) => Some(read_receipt(msg)),
        Some(ReportKind::NonStandardBounce) | None => nonstandard_bounce(msg, root),
    }
}

/// The kind a `report-type` parameter or a `message/*` subtype names.
fn kind_named(name: &str) -> Option<ReportKind> {
    match name.trim().to_ascii_lowercase().as_str() {
        "delivery-status" | "global-delivery-status" => Some(ReportKind::DeliveryStatus),
        "feedback-report" => Some(ReportKind::Feedback),
        "disposition-notification" | "global-disposition-notification" => {
            Some(ReportKind::ReadReceipt)
        }
        _ => None,
    }
}

/// A `multipart/report` without (a known) `report-type`: the machine-readable
/// part says what it is.
fn inferred_kind(msg: &Message<'_>) -> Option<ReportKind> {
    msg.parts.iter().skip(1).find_map(|p| {
        let ct = p.content_type()?;
        if !ct.ctype().eq_ignore_ascii_case("message") {
            return None;
        }
        ct.subtype().and_then(kind_named)
    })
}

// ---------------------------------------------------------------------------
// Structured reports

fn delivery_status(msg: &Message<'_>) -> DeliveryReport {
    let mut report = DeliveryReport::new(ReportKind::DeliveryStatus);
    let mut headers_in_status = None;
    for part in parts_of_subtype(msg, &["delivery-status", "global-delivery-status"]) {
        let text = part_text(part);
        report.recipients.extend(dsn_recipients(&text, 0));
        // Status fields never include a Message-ID; one here is the returned
        // message's header, swallowed by a part whose boundary was broken.
        headers_in_status = headers_in_status.or_else(|| quoted_message_id(&text));
    }
    report.original_message_id = returned_message_id(msg).or(headers_in_status);
    report.recipients.truncate(MAX_RECIPIENTS);
    let text = notification_text(msg);
    let (notice, quoted) = split_at_returned_copy(&text);
    let from_text = report.recipients.is_empty();
    if from_text {
        // An empty or missing status part (Google Workspace, some Exchange
        // versions): what the human-readable part says is all there is.
        report.recipients = text_recipients(notice, &sender(msg));
        add_header_recipients(msg, &mut report.recipients);
    }
    if report.original_message_id.is_none() {
        report.original_message_id = quoted_message_id(quoted);
    }
    finish(&mut report, &subject_and(msg, notice), from_text);
    report
}

fn feedback(msg: &Message<'_>) -> DeliveryReport {
    let mut report = DeliveryReport::new(ReportKind::Feedback);
    for part in parts_of_subtype(msg, &["feedback-report"]) {
        let fields = all_fields(&part_text(part));
        if report.feedback_type.is_none() {
            report.feedback_type = field(&fields, "feedback-type").map(|v| v.to_ascii_lowercase());
        }
    }
    report.original_message_id = returned_message_id(msg);
    report
}

fn read_receipt(msg: &Message<'_>) -> DeliveryReport {
    let mut report = DeliveryReport::new(ReportKind::ReadReceipt);
    for part in parts_of_subtype(
        msg,
        &[
            "disposition-notification",
            "global-disposition-notification",
        ],
    ) {
        let fields = all_fields(&part_text(part));
        if report.disposition.is_none() {
            report.disposition = field(&fields, "disposition").map(str::to_owned);
        }
        if report.original_message_id.is_none() {
            report.original_message_id = field(&fields, "original-message-id").and_then(clean_id);
        }
    }
    if report.original_message_id.is_none() {
        report.original_message_id = returned_message_id(msg);
    }
    report
}

/// Parts of `msg` (the report itself, not the returned message) whose type
/// is `message/<one of subtypes>`; the root too, for a bare status message.
fn parts_of_subtype<'a, 'x>(
    msg: &'a Message<'x>,
    subtypes: &'a [&'a str],
) -> impl Iterator<Item = &'a MessagePart<'x>> + 'a {
    msg.parts.iter().filter(move |p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
        })
    })
}

fn part_text<'a>(part: &'a MessagePart<'_>) -> std::borrow::Cow<'a, str> {
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => std::borrow::Cow::Borrowed(t.as_ref()),
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b),
        PartType::Message(m) => String::from_utf8_lossy(m.raw_message()),
        PartType::Multipart(_) => std::borrow::Cow::Borrowed(""),
    }
}

// ---------------------------------------------------------------------------
// RFC 3464 status fields

/// One `Name: value` field; the name lower-cased, continuation lines joined
/// by dropping the line break only (as RFC 5322 unfolding does).
#[derive(Debug, Clone)]
struct Field {
    name: String,
    value: String,
}

/// A run of lines between blank lines: fields, or text that is not fields
/// (the base64 some relays leave inside a status part, prose).
#[derive(Debug)]
enum Block {
    Fields(Vec<Field>),
    Text(String),
}

fn blocks(text: &str) -> Vec<Block> {
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

fn all_fields(text: &str) -> Vec<Field> {
    blocks(text)
        .into_iter()
        .flat_map(|b| match b {
            Block::Fields(f) => f,
            Block::Text(_) => Vec::new(),
        })
        .collect()
}

fn field<'f>(fields: &'f [Field], name: &str) -> Option<&'f str> {
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
fn dsn_recipients(text: &str, depth: u8) -> Vec<RecipientStatus> {
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
fn push_group(out: &mut Vec<RecipientStatus>, mut g: RecipientStatus) {
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
fn recipient_address(value: &str) -> Option<String> {
    let addr = value.split_once(';').map_or(value, |(_, a)| a).trim();
    let addr = addr.trim_start_matches('<').trim_end_matches('>').trim();
    looks_like_address(addr).then(|| addr.to_ascii_lowercase())
}

fn looks_like_address(a: &str) -> bool {
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
enum Failure {
    Permanent,
    Transient,
    Delivered,
    Unknown,
}

/// Status class first (RFC 3463), then `Action`, then the SMTP reply code
/// of the diagnostic.
fn recipient_failure(g: &RecipientStatus) -> Failure {
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

static STATUS_FIELD: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*([245]\.\d{1,3}\.\d{1,3})"));
static ENHANCED: LazyLock<Regex> = LazyLock::new(|| re(r"[245]\.\d{1,3}\.\d{1,3}"));
static REPLY_CODED: LazyLock<Regex> =
    LazyLock::new(|| re(r#"\b([245])\d\d[ -]['"]?([245])(\.\d{1,3}\.\d{1,3})"#));
static QMAIL_CODE: LazyLock<Regex> = LazyLock::new(|| re(r"\(#([245]\.\d{1,3}\.\d{1,3})\)"));
static REPLY_CODE: LazyLock<Regex> = LazyLock::new(|| re(r"\b([245])\d\d\b"));

/// Compiles one of this module's constant patterns. They are not data: the
/// `every_pattern_compiles` test forces each of them, so this cannot fail on
/// any input mail.
fn re(pattern: &str) -> Regex {
    #[allow(clippy::expect_used)]
    Regex::new(pattern).expect("constant regular expression")
}

/// `5.0.0 (permanent failure)` → `5.0.0`.
fn status_code(value: &str) -> Option<String> {
    STATUS_FIELD
        .captures(value)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
}

/// True when the match at `start..end` stands alone (not a piece of an IP
/// address or a longer dotted number).
fn standalone(text: &str, start: usize, end: usize) -> bool {
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
fn reply_coded_status(text: &str) -> Option<String> {
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

fn next_char(text: &str, i: usize) -> usize {
    text[i..]
        .chars()
        .next()
        .map_or(text.len(), |c| i + c.len_utf8())
}

/// Best enhanced status code in free text: reply-coded, then qmail's
/// `(#5.5.0)`, then any standalone one.
fn text_status(text: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------
// Plain-text bounces

static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)undeliver|not delivered|delivery (?:status notification|failure|failed|has failed|problem|notification|report|delayed)",
        r"|mail delivery failed|returned mail|returned to sender|failure notice|mail failure|mail system error",
        r"|could not send message|delayed mail|nondeliverable|non-deliverable|unzustellbar|non remis",
        r"|no se puede entregar|non recapitabile|onbestelbaar|não entregue|olevererbart",
        r"|не доставлено|未送達|无法投递|無法傳遞"
    ))
});

static BOUNCE_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)could not be delivered|couldn't be delivered|wasn't delivered|was not delivered",
        r"|delivery has failed|delivery failed|failed permanently|permanent error|unable to deliver",
        r"|wasn't able to deliver|could not deliver|this is the qmail-send program",
        r"|the following address\(es\) failed|undeliverable|failure reasons|message not delivered",
        r"|transcript of session follows|delivery is delayed|has not yet been delivered",
        r"|не может быть доставлено"
    ))
});

/// Said plainly: the failure is final.
static PERMANENT_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)permanent (?:error|failure)|failed permanently|fatal error|i've given up|giving up")
});
/// A delay warning: the MTA is still trying.
static TRANSIENT_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)warning: could not send|this is a warning message|will (?:keep|continue) trying|still being retried",
        r"|delivery (?:is |has been )?delayed|delayed mail|will retry|has not yet been delivered|temporar(?:y|ily) (?:error|failure|problem)"
    ))
});
/// Otherwise a failure without a word about retrying is taken as final.
static HARD_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)undeliver|undelivered|delivery (?:has )?failed|could not be delivered|couldn't be delivered",
        r"|wasn't delivered|was not delivered|not delivered|unable to deliver|wasn't able to deliver",
        r"|user unknown|unknown user|no such user|does not exist|failure notice|failure reasons|mail failure|rejected"
    ))
});

/// A line that starts the copy of the returned message.
static RETURNED_COPY: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)^[\s\-=*_]*(?:this is a copy of the message|below this line is a copy of the message",
        r"|original message|returned message|undelivered message|unsent message|message headers follow",
        r"|enclosed are the original headers|headers of the original message|text of the original message)",
        r"|^(?:received|return-path|dkim-signature|message-id|x-received):"
    ))
});

/// A line that begins with a recipient address: `  user@host`,
/// `<user@host>:`, `user@host<mailto:user@host>`, `<user@host>... Deferred`.
static RECIPIENT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"^\s*<?([^\s<>()\[\]@,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)>?\s*(?:$|:|\.\.\.|<mailto:)"#,
    )
});

/// `Delivery failed 10 attempts: user@host`.
static FAILED_INLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:delivery failed|failed|undeliverable|could not be delivered|unable to deliver)\b[^\n]*?:\s*<?([^\s<>()\[\]@,;:"]+@[A-Za-z0-9.\-]+[A-Za-z0-9])>?\s*$"#,
    )
});

/// Local parts that only machines write from.
const DAEMON_LOCALS: &[&str] = &[
    "mailer-daemon",
    "mailerdaemon",
    "mail-daemon",
    "maildaemon",
    "postmaster",
];

/// True for a mailer daemon or postmaster address.
pub fn is_daemon_address(addr: &str) -> bool {
    let local = addr.rsplit_once('@').map_or(addr, |(l, _)| l);
    DAEMON_LOCALS.iter().any(|d| local.eq_ignore_ascii_case(d))
}

/// Who sent `msg` (lower-cased From address), if anyone.
fn sender(msg: &Message<'_>) -> String {
    from_address(msg).unwrap_or_default()
}

/// The first From address of `msg`, lower-cased.
pub(crate) fn from_address(msg: &Message<'_>) -> Option<String> {
    let root = msg.parts.first()?;
    root.headers
        .iter()
        .rev()
        .find(|h| h.name == HeaderName::From)
        .and_then(|h| h.value.as_address())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
}

/// Raw, unfolded, trimmed values of every top-level header called `name`, in
/// message order. Raw, because the typed parse of unknown or odd headers
/// (`Return-Path: <>`) is not what the classifier needs.
pub(crate) fn raw_headers(msg: &Message<'_>, name: &str) -> Vec<String> {
    let Some(root) = msg.parts.first() else {
        return Vec::new();
    };
    root.headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
        .map(|h| {
            let raw = msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            let text = String::from_utf8_lossy(raw);
            let unfolded: String = text.chars().filter(|&c| c != '\r' && c != '\n').collect();
            unfolded.trim().to_owned()
        })
        .collect()
}

/// The decoded subject, or an empty string.
pub(crate) fn subject(msg: &Message<'_>) -> String {
    msg.parts
        .first()
        .and_then(|r| {
            r.headers
                .iter()
                .rev()
                .find(|h| h.name == HeaderName::Subject)
        })
        .and_then(|h| match &h.value {
            HeaderValue::Text(t) => Some(t.to_string()),
            HeaderValue::TextList(l) => Some(l.join(" ")),
            _ => None,
        })
        .unwrap_or_default()
}

/// A bounce that is not a `multipart/report`: from a mailer daemon or
/// postmaster (or carrying the MTA-only `X-Failed-Recipients`), and saying
/// in its subject or text that mail was not delivered. A person forwarding
/// a bounce to support is not a bounce: that mail is from the person.
fn nonstandard_bounce(msg: &Message<'_>, root: &MessagePart<'_>) -> Option<DeliveryReport> {
    let from = sender(msg);
    let display_daemon = root
        .headers
        .iter()
        .rev()
        .find(|h| h.name == HeaderName::From)
        .and_then(|h| h.value.as_address())
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            n.contains("mail delivery subsystem") || n.contains("mail delivery system")
        });
    let x_failed = !raw_headers(msg, "X-Failed-Recipients").is_empty();
    if !(is_daemon_address(&from) || display_daemon || x_failed) {
        return None;
    }
    let subj = subject(msg);
    let text = notification_text(msg);
    let (notice, quoted) = split_at_returned_copy(&text);
    if !(x_failed || BOUNCE_SUBJECT.is_match(&subj) || BOUNCE_TEXT.is_match(notice)) {
        return None;
    }
    let mut report = DeliveryReport::new(ReportKind::NonStandardBounce);
    report.recipients = text_recipients(notice, &from);
    add_header_recipients(msg, &mut report.recipients);
    report.original_message_id = returned_message_id(msg).or_else(|| quoted_message_id(quoted));
    finish(&mut report, &format!("{subj}\n{notice}"), true);
    Some(report)
}

fn subject_and(msg: &Message<'_>, notice: &str) -> String {
    format!("{}\n{notice}", subject(msg))
}

/// Upper bound on the text scanned per message, so that a huge bounce costs
/// no more than a normal one.
const MAX_SCAN: usize = 256 * 1024;

/// Upper bound on the recipients read from one report. ticketd's own
/// notifications go to a handful of people; a report naming thousands is
/// either a mass mailing or an attack, and must not cost quadratic time.
const MAX_RECIPIENTS: usize = 500;

/// The human-readable text of the report: its `text/plain` parts (not the
/// returned message, which is a nested message), decoded.
fn notification_text(msg: &Message<'_>) -> String {
    let mut out = String::new();
    for part in &msg.parts {
        let PartType::Text(t) = &part.body else {
            continue;
        };
        let plain = part.content_type().is_none_or(|ct| {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_none_or(|s| s.eq_ignore_ascii_case("plain"))
        });
        if plain {
            out.push_str(t);
            out.push('\n');
        }
        if out.len() >= MAX_SCAN {
            let mut cut = MAX_SCAN;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            break;
        }
    }
    out
}

/// Splits a bounce text into the notice and the quoted copy of the returned
/// message (empty when there is none).
fn split_at_returned_copy(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if RETURNED_COPY.is_match(line.trim_end()) {
            return (&text[..offset], &text[offset..]);
        }
        offset += line.len();
    }
    (text, "")
}

/// Recipients named in a bounce notice, each with the status found in the
/// lines below it (up to the next recipient).
fn text_recipients(notice: &str, from: &str) -> Vec<RecipientStatus> {
    let lines: Vec<&str> = notice.lines().collect();
    let mut found: Vec<(usize, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
        let addr = RECIPIENT_LINE
            .captures(line)
            .or_else(|| FAILED_INLINE.captures(line))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().trim_end_matches('.').to_ascii_lowercase());
        if let Some(a) = addr {
            if looks_like_address(&a) && a != from && !is_daemon_address(&a) {
                found.push((i, a));
            }
        }
    }
    let mut out: Vec<RecipientStatus> = Vec::new();
    for (n, (start, addr)) in found.iter().enumerate() {
        let end = found.get(n + 1).map_or(lines.len(), |(next, _)| *next);
        let block = lines.get(*start..end).unwrap_or_default().join("\n");
        let status = text_status(&block);
        let diagnostic = lines
            .get(*start..end)
            .unwrap_or_default()
            .iter()
            .find(|l| {
                REPLY_CODE.is_match(l) && (l.contains("said") || reply_coded_status(l).is_some())
            })
            .map(|l| l.trim().to_owned());
        match out
            .iter_mut()
            .find(|r| r.final_recipient.as_deref() == Some(addr))
        {
            Some(existing) => {
                if existing.status.is_none() {
                    existing.status = status;
                }
                if existing.diagnostic.is_none() {
                    existing.diagnostic = diagnostic;
                }
            }
            None => out.push(RecipientStatus {
                final_recipient: Some(addr.clone()),
                status,
                diagnostic,
                ..RecipientStatus::default()
            }),
        }
    }
    out
}

/// `X-Failed-Recipients` (Exim, Gmail) names what the text may not.
fn add_header_recipients(msg: &Message<'_>, recipients: &mut Vec<RecipientStatus>) {
    for value in raw_headers(msg, "X-Failed-Recipients") {
        for a in value.split([',', ' ', '\t']) {
            let a = a.trim().trim_start_matches('<').trim_end_matches('>');
            if !looks_like_address(a) || recipients.len() >= MAX_RECIPIENTS {
                continue;
            }
            let a = a.to_ascii_lowercase();
            let known = recipients.iter().any(|r| r.addresses().any(|x| *x == a));
            if !known {
                recipients.push(RecipientStatus {
                    final_recipient: Some(a),
                    ..RecipientStatus::default()
                });
            }
        }
    }
}

/// Fills the report-level facts from the recipients, with `text` (subject
/// and notice) deciding what a missing status leaves open. `from_text`: the
/// recipients were read from prose, not from status fields.
fn finish(report: &mut DeliveryReport, text: &str, from_text: bool) {
    let text_failure = if PERMANENT_TEXT.is_match(text) {
        Failure::Permanent
    } else if TRANSIENT_TEXT.is_match(text) {
        Failure::Transient
    } else if HARD_TEXT.is_match(text) {
        Failure::Permanent
    } else {
        Failure::Unknown
    };
    let global_status = text_status(text);
    let single = report.recipients.len() == 1;
    for r in &mut report.recipients {
        if from_text && single && r.status.is_none() && text_failure != Failure::Unknown {
            // One recipient named in prose: the code in the notice is its.
            r.status = global_status.clone();
        }
        let f = match recipient_failure(r) {
            Failure::Unknown => text_failure,
            f => f,
        };
        r.permanent = f == Failure::Permanent;
    }
    report.permanent = if report.recipients.is_empty() {
        match global_status.as_deref().and_then(|s| s.chars().next()) {
            Some('5') => true,
            Some(_) => false,
            None => text_failure == Failure::Permanent,
        }
    } else {
        report.recipients.iter().any(|r| r.permanent)
    };
    let failed: Vec<&RecipientStatus> = report
        .recipients
        .iter()
        .filter(|r| {
            if report.permanent {
                r.permanent
            } else {
                recipient_failure(r) != Failure::Delivered
            }
        })
        .collect();
    let lead = failed.first().copied().or(report.recipients.first());
    report.status = lead
        .and_then(|r| r.status.clone())
        .or(global_status.filter(|_| report.recipients.is_empty()));
    report.diagnostic = lead.and_then(|r| r.diagnostic.clone());
    let mut addrs: Vec<String> = Vec::new();
    for r in failed {
        for a in r.addresses() {
            if !addrs.contains(a) {
                addrs.push(a.clone());
            }
        }
    }
    report.failed_recipients = addrs;
}

// ---------------------------------------------------------------------------
// The returned message

/// Message-ID of the returned message: a `message/rfc822` part, or the
/// `text/rfc822-headers` part RFC 3462 allows instead.
fn returned_message_id(msg: &Message<'_>) -> Option<String> {
    msg.parts.iter().skip(1).find_map(|part| {
        let ct = part.content_type()?;
        let sub = ct.subtype().unwrap_or("").to_ascii_lowercase();
        let ty = ct.ctype().to_ascii_lowercase();
        match (ty.as_str(), sub.as_str()) {
            ("message", "rfc822" | "global") => match &part.body {
                PartType::Message(m) => message_id_of(m)
                    .or_else(|| quoted_message_id(&String::from_utf8_lossy(m.raw_message()))),
                _ => quoted_message_id(&part_text(part)),
            },
            ("text" | "message", "rfc822-headers" | "global-headers") => {
                quoted_message_id(&part_text(part))
            }
            _ => None,
        }
    })
}

fn message_id_of(m: &Message<'_>) -> Option<String> {
    let root = m.parts.first()?;
    root.headers
        .iter()
        .find(|h| h.name == HeaderName::MessageId)
        .and_then(|h| match &h.value {
            HeaderValue::Text(t) => clean_id(t),
            HeaderValue::TextList(l) => l.first().and_then(|t| clean_id(t)),
            _ => None,
        })
}

/// First `Message-ID:` header line in quoted text (its value may be folded
/// onto the next line). `Resent-Message-ID` and the like do not count.
fn quoted_message_id(text: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(prefix) = line.get(..11) else {
            continue;
        };
        if !prefix.eq_ignore_ascii_case("message-id:") {
            continue;
        }
        let value = line.get(11..).unwrap_or_default().trim();
        let value = if value.is_empty() {
            lines.next().unwrap_or_default().trim()
        } else {
            value
        };
        if let Some(id) = clean_id(value) {
            return Some(id);
        }
    }
    None
}

/// `<abc@host>` or `abc@host` → `abc@host`; `None` when nothing is left.
fn clean_id(value: &str) -> Option<String> {
    let v = value.trim();
    let inner = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if b > a => &v[a + 1..b],
        _ => v.split_whitespace().next().unwrap_or_default(),
    };
    let inner = inner.trim().trim_start_matches('<').trim_end_matches('>');
    (!inner.is_empty() && !inner.contains(char::is_whitespace)).then(|| inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn report(raw: &str) -> Option<DeliveryReport> {
        match MessageParser::default().parse(raw.as_bytes()) {
            Some(msg) => delivery_report(&msg),
            None => panic!("test message did not parse"),
        }
    }

    /// The report `raw` must be.
    fn must(raw: &str) -> DeliveryReport {
        report(raw).unwrap_or_else(|| panic!("not read as a report:\n{raw}"))
    }

    const DSN: &str = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\n\
        To: support@example.com\n\
        Subject: Undelivered Mail Returned to Sender\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\n\
        \n\
        --b1\n\
        Content-Type: text/plain\n\
        \n\
        I could not deliver your message.\n\
        --b1\n\
        Content-Type: message/delivery-status\n\
        \n\
        Reporting-MTA: dns; mx.example.org\n\
        \n\
        Final-Recipient: rfc822; Alice@Example.net\n\
        Original-Recipient: rfc822;alice.alias@example.net\n\
        Action: failed\n\
        Status: 5.1.1 (user unknown)\n\
        Diagnostic-Code: smtp; 550 5.1.1 <alice@example.net>: no such\n\
        \x20   user here\n\
        \n\
        Final-Recipient: rfc822; bob@example.net\n\
        Action: delayed\n\
        Status: 4.4.1\n\
        --b1\n\
        Content-Type: message/rfc822\n\
        \n\
        From: support@example.com\n\
        To: alice.alias@example.net\n\
        Message-ID: <note-17@support.example.com>\n\
        Subject: [#17] hello\n\
        \n\
        hi\n\
        --b1--\n";

    #[test]
    fn rfc3464_report_gives_recipients_status_and_original_id() {
        let r = must(DSN);
        assert_eq!(r.kind, ReportKind::DeliveryStatus);
        assert_eq!(r.recipients.len(), 2);
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(
            r.diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 <alice@example.net>: no such    user here")
        );
        assert!(r.permanent);
        // Only the permanent failure, original address first.
        assert_eq!(
            r.failed_recipients,
            ["alice.alias@example.net", "alice@example.net"]
        );
        assert_eq!(
            r.original_message_id.as_deref(),
            Some("note-17@support.example.com")
        );
        assert!(!r.recipients[1].permanent);
    }

    #[test]
    fn delay_only_report_is_not_permanent() {
        let raw = DSN
            .replace("Action: failed\n", "Action: delayed\n")
            .replace("Status: 5.1.1 (user unknown)", "Status: 4.2.2");
        let r = must(&raw);
        assert!(!r.permanent);
        assert_eq!(r.status.as_deref(), Some("4.2.2"));
        assert!(r.failed_recipients.contains(&"bob@example.net".to_owned()));
    }

    #[test]
    fn groups_without_blank_lines_are_split() {
        let recips = dsn_recipients(
            "Reporting-MTA: dns; x\nFinal-Recipient: rfc822; a@x.org\nAction: failed\nStatus: 5.1.1\n\
             Final-Recipient: rfc822; b@x.org\nAction: failed\nStatus: 5.2.2\n",
            0,
        );
        assert_eq!(recips.len(), 2);
        assert_eq!(recips[1].final_recipient.as_deref(), Some("b@x.org"));
        assert_eq!(recips[1].status.as_deref(), Some("5.2.2"));
    }

    #[test]
    fn original_recipient_only_group_counts() {
        let recips = dsn_recipients(
            "Reporting-MTA: dns;x\n\n\n\nOriginal-Recipient:rfc822;o@x.org\nStatus:5.5.0\n",
            0,
        );
        assert_eq!(recips.len(), 1);
        assert_eq!(recips[0].original_recipient.as_deref(), Some("o@x.org"));
        assert!(recips[0].permanent);
    }

    #[test]
    fn base64_inside_a_status_part_is_decoded() {
        // "Final-Recipient: rfc822; c@x.org\nAction: failed\nStatus: 5.1.1\n"
        let text = "Reporting-MTA: dns; x\nContent-Transfer-Encoding: base64\n\n\
                    RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGNAeC5vcmcKQWN0aW9uOiBmYWlsZWQK\n\
                    U3RhdHVzOiA1LjEuMQo=\n";
        let recips = dsn_recipients(text, 0);
        assert_eq!(recips.len(), 1);
        assert_eq!(recips[0].final_recipient.as_deref(), Some("c@x.org"));
        assert_eq!(recips[0].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn generic_status_is_refined_by_the_remote_reply() {
        let recips = dsn_recipients(
            "Final-Recipient: rfc822;a@x.org\nAction: failed\nStatus: 5.0.0\n\
             Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.7.1 denied'\n",
            0,
        );
        assert_eq!(recips[0].status.as_deref(), Some("5.7.1"));
    }

    #[test]
    fn no_status_but_action_failed_is_permanent() {
        let recips = dsn_recipients(
            "Final-Recipient: RFC822; <a@x.org>\nAction: failed\nDiagnostic-Code: X-LOCAL; 500 (no)\n",
            0,
        );
        assert_eq!(recips[0].final_recipient.as_deref(), Some("a@x.org"));
        assert!(recips[0].permanent);
        assert_eq!(recips[0].status, None);
    }

    #[test]
    fn bare_delivery_status_message_is_a_report() {
        let r = must(
            "Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@x.org\n\
             Action: failed\nStatus: 4.2.2\n",
        );
        assert_eq!(r.kind, ReportKind::DeliveryStatus);
        assert_eq!(r.failed_recipients, ["a@x.org"]);
        assert!(!r.permanent);
    }

    #[test]
    fn empty_status_part_falls_back_to_text_and_header() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@mail.example>\n\
            X-Failed-Recipients: Gone@Example.net\n\
            Subject: Delivery Status Notification (Failure)\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
            --b\nContent-Type: text/plain\n\nMessage not delivered.\n\
            --b\nContent-Type: message/delivery-status\n\n\n\
            --b\nContent-Type: message/rfc822\n\nMessage-ID: <x1@here>\nSubject: s\n\nbody\n--b--\n";
        let r = must(raw);
        assert_eq!(r.kind, ReportKind::DeliveryStatus);
        assert_eq!(r.failed_recipients, ["gone@example.net"]);
        assert!(r.permanent);
        assert_eq!(r.original_message_id.as_deref(), Some("x1@here"));
    }

    #[test]
    fn returned_headers_swallowed_by_a_broken_boundary_still_give_the_id() {
        let raw = "From: MAILER-DAEMON@mx.example\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=\"b.0\"\n\n\
            --b.0\nContent-Type: message/delivery-status\n\n\
            Final-Recipient: rfc822; a@x.example\nAction: failed\nStatus: 5.2.1\n\n\
            --b.7\nContent-Type: text/rfc822-headers\n\n\
            Message-Id: <lost-7@support.example.com>\nSubject: s\n\n--b.7--\n";
        let r = must(raw);
        assert_eq!(r.failed_recipients, ["a@x.example"]);
        assert_eq!(
            r.original_message_id.as_deref(),
            Some("lost-7@support.example.com")
        );
    }

    const TEXT_BOUNCE: &str = "From: Mail Delivery System <Mailer-Daemon@relay.example>\n\
        To: support@example.com\n\
        Subject: Mail delivery failed: returning message to sender\n\
        \n\
        A message that you sent could not be delivered to one or more of its\n\
        recipients. This is a permanent error. The following address(es) failed:\n\
        \n\
        \x20 carol@example.org\n\
        \x20   host mx.example.org [10.5.4.3]: 550 5.2.2 <carol@example.org>: mailbox full\n\
        \n\
        ------ This is a copy of the message, including all the headers. ------\n\
        \n\
        Message-Id: <note-9@support.example.com>\n\
        From: support@example.com\n\
        To: carol@example.org\n\
        \n\
        reply above this line\n";

    #[test]
    fn plain_text_bounce_from_mailer_daemon() {
        let r = must(TEXT_BOUNCE);
        assert_eq!(r.kind, ReportKind::NonStandardBounce);
        assert_eq!(r.failed_recipients, ["carol@example.org"]);
        // Not "5.4.3" from inside the IP address.
        assert_eq!(r.status.as_deref(), Some("5.2.2"));
        assert!(r.permanent);
        assert_eq!(
            r.original_message_id.as_deref(),
            Some("note-9@support.example.com")
        );
        assert!(r
            .diagnostic
            .as_deref()
            .is_some_and(|d| d.contains("mailbox full")));
    }

    #[test]
    fn qmail_style_bounce_with_two_recipients() {
        let raw = "From: MAILER-DAEMON@q.example\nSubject: failure notice\n\n\
            Hi. This is the qmail-send program at q.example.\n\
            I'm afraid I wasn't able to deliver your message to the following addresses.\n\
            This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
            <one@example.org>:\nRemote host said: 550 5.1.1 no such user\n\n\
            <two@example.org>:\nsaid: 550 no mailbox\n. (#5.2.1)\n\n\
            --- Below this line is a copy of the message.\n\n\
            Message-ID: <m2@support.example.com>\n\nhello\n";
        let r = must(raw);
        let st: Vec<_> = r.recipients.iter().map(|x| x.status.as_deref()).collect();
        assert_eq!(st, [Some("5.1.1"), Some("5.2.1")]);
        assert_eq!(r.failed_recipients, ["one@example.org", "two@example.org"]);
        assert_eq!(
            r.original_message_id.as_deref(),
            Some("m2@support.example.com")
        );
    }

    #[test]
    fn postmaster_notice_without_code_is_permanent_by_its_words() {
        let raw = "From: \"Postmaster\" <postmaster@example.net>\nSubject: Undeliverable Mail\n\n\
            Delivery failed 10 attempts: dave@example.org\n\n\nOriginal message follows.\n\n\
            From: support@example.com\nSubject: Hey\n\nHey\n";
        let r = must(raw);
        assert_eq!(r.failed_recipients, ["dave@example.org"]);
        assert!(r.permanent);
        assert_eq!(r.status, None);
        assert_eq!(r.original_message_id, None);
    }

    #[test]
    fn delay_warning_text_is_not_permanent() {
        let raw = "From: MAILER-DAEMON@x.example\nSubject: Warning: could not send message for past 4 hours\n\n\
            THIS IS A WARNING MESSAGE ONLY\n<eve@example.org>... Deferred\n";
        let r = must(raw);
        assert!(!r.permanent);
        assert_eq!(r.failed_recipients, ["eve@example.org"]);
    }

    #[test]
    fn a_person_forwarding_a_bounce_is_not_a_report() {
        let raw = "From: Frank <frank@customer.example>\nSubject: Fwd: Undeliverable: invoice\n\n\
            Why did this bounce?\n\nDelivery has failed to these recipients:\n\nbilling@example.org\n";
        assert_eq!(report(raw), None);
    }

    #[test]
    fn daemon_mail_without_failure_words_is_not_a_bounce() {
        let raw = "From: postmaster@example.net\nSubject: Mailbox quota\n\nYour quota is fine.\n";
        assert_eq!(report(raw), None);
    }

    #[test]
    fn ordinary_mail_is_not_a_report() {
        let raw = "From: Grace <grace@example.org>\nSubject: My order\n\nIt has not arrived.\n";
        assert_eq!(report(raw), None);
    }

    #[test]
    fn feedback_report() {
        let raw = "From: fbl@isp.example\nSubject: complaint\n\
            Content-Type: multipart/report; report-type=\"feedback-report\"; boundary=b\n\n\
            --b\nContent-Type: text/plain\n\nA complaint.\n\
            --b\nContent-Type: message/feedback-report\n\nFeedback-Type: Abuse\nVersion: 1\n\
            --b\nContent-Type: text/rfc822-headers\n\nFrom: support@example.com\nMessage-ID: <n5@support.example.com>\n\
            --b--\n";
        let r = must(raw);
        assert_eq!(r.kind, ReportKind::Feedback);
        assert_eq!(r.feedback_type.as_deref(), Some("abuse"));
        assert_eq!(
            r.original_message_id.as_deref(),
            Some("n5@support.example.com")
        );
        assert!(!r.permanent);
        assert!(r.failed_recipients.is_empty());
    }

    #[test]
    fn read_receipt() {
        let raw = "From: Heidi <heidi@example.org>\nSubject: Read: hello\n\
            Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n\
            --b\n\nYour message was displayed.\n\
            --b\ncontent-type: message/disposition-notification\n\n\
            Final-Recipient: rfc822;heidi@example.org\n\
            Original-Message-ID: <n6@support.example.com>\n\
            Disposition: manual-action/MDN-sent-manually; displayed\n--b--\n";
        let r = must(raw);
        assert_eq!(r.kind, ReportKind::ReadReceipt);
        assert_eq!(
            r.original_message_id.as_deref(),
            Some("n6@support.example.com")
        );
        assert_eq!(
            r.disposition.as_deref(),
            Some("manual-action/MDN-sent-manually; displayed")
        );
    }

    #[test]
    fn report_type_missing_is_inferred_from_parts() {
        let raw = "From: x@y.example\nContent-Type: multipart/report; boundary=b\n\n\
            --b\nContent-Type: message/feedback-report\n\nFeedback-Type: fraud\n--b--\n";
        assert_eq!(must(raw).kind, ReportKind::Feedback);
    }

    #[test]
    fn status_codes_in_text() {
        assert_eq!(
            text_status("host 192.0.2.153 said: 550 5.1.1 nope").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            text_status("said 550 Unknown user\n. (#5.5.0)").as_deref(),
            Some("5.5.0")
        );
        assert_eq!(
            text_status("see DSN 5.1.10 Errors").as_deref(),
            Some("5.1.10")
        );
        assert_eq!(text_status("relay 10.5.4.3 only"), None);
        assert_eq!(text_status("version 1.5.1.1"), None);
        assert_eq!(status_code("  4.4.7 (delayed)").as_deref(), Some("4.4.7"));
        assert_eq!(status_code("unknown"), None);
    }

    #[test]
    fn message_ids_are_cleaned() {
        assert_eq!(clean_id(" <a@b> ").as_deref(), Some("a@b"));
        assert_eq!(clean_id("a@b (comment)").as_deref(), Some("a@b"));
        assert_eq!(clean_id("<>"), None);
        assert_eq!(
            quoted_message_id("Resent-Message-ID: <r@x>\nMessage-Id:\n <m@x>\n").as_deref(),
            Some("m@x")
        );
    }

    #[test]
    fn every_pattern_compiles() {
        for re in [
            &STATUS_FIELD,
            &ENHANCED,
            &REPLY_CODED,
            &QMAIL_CODE,
            &REPLY_CODE,
            &BOUNCE_SUBJECT,
            &BOUNCE_TEXT,
            &PERMANENT_TEXT,
            &TRANSIENT_TEXT,
            &HARD_TEXT,
            &RETURNED_COPY,
            &RECIPIENT_LINE,
            &FAILED_INLINE,
        ] {
            let _ = re.is_match("");
        }
    }

    #[test]
    fn huge_reports_are_capped() {
        let mut status = String::new();
        for i in 0..5000 {
            status.push_str(&format!(
                "Final-Recipient: rfc822; u{i}@x.example\nAction: failed\nStatus: 5.1.1\n\n"
            ));
        }
        let raw = format!("Content-Type: message/delivery-status\n\n{status}");
        let r = must(&raw);
        assert_eq!(r.recipients.len(), MAX_RECIPIENTS);
        assert_eq!(r.failed_recipients.len(), MAX_RECIPIENTS);
        let mut text = String::from("From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n");
        for i in 0..5000 {
            text.push_str(&format!("<u{i}@x.example>:\n550 5.1.1 unknown\n\n"));
        }
        assert_eq!(must(&text).recipients.len(), MAX_RECIPIENTS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let inputs: &[&[u8]] = &[
            b"Content-Type: multipart/report; report-type=delivery-status\n\n",
            b"Content-Type: message/delivery-status\n\n\xff\xfe:\n\t\n:::\n",
            b"From: mailer-daemon@x\nSubject: undeliverable\n\n<@>:\n@\n<a@>\n",
            b"Content-Type: multipart/report; report-type=disposition-notification; boundary=z\n\n--z\nContent-Type: message/disposition-notification\n\nOriginal-Message-ID:\n--z--",
            "From: MAILER-DAEMON@x\nSubject: Unzustellbar\n\n\u{00e9}\u{00e9} 550 5.1.\u{00e9}".as_bytes(),
        ];
        for raw in inputs {
            if let Some(msg) = MessageParser::default().parse(*raw) {
                let _ = delivery_report(&msg);
            }
        }
        let _ = delivery_report(&Message::default());
    }
}
