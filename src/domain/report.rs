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

mod dsn;
#[cfg(test)]
mod tests;
mod text_bounce;

use dsn::*;
pub use text_bounce::is_daemon_address;
use text_bounce::*;

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
// Headers, as the classifier reads them too

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
