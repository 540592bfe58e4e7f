//! One outbox row → one RFC 5322 message, with every header mail clients
//! thread by and autoresponders respect (DESIGN §4). No I/O: the same row
//! always composes to the same bytes, which is what the golden tests pin.

use base64::Engine as _;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use sha2::{Digest, Sha256};

use crate::domain::address::Addressing;
use crate::domain::classify::OWN_LOOP_HEADER;
use crate::domain::normalize::one_line;
use crate::domain::threading::fits;
use crate::domain::time::Timestamp;

use super::html_body;
pub use crate::store::outbox::{Outgoing, ThreadFacts};

/// Who ticketd's mail comes from.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `From`: the support name and address.
    pub from: Mailbox,
    /// Builds each ticket's HMAC reply address.
    pub addressing: Addressing,
    /// The value of ticketd's loop header.
    pub loop_id: String,
}

/// Why a row cannot become a message at all (no retry can help).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("outbox row {row}: {address:?} is not a deliverable address")]
    BadRecipient { row: i64, address: String },
    #[error("outbox row {row} has no recipient")]
    NoRecipient { row: i64 },
    #[error("outbox row {row} cannot be composed: {source}")]
    Build {
        row: i64,
        source: lettre::error::Error,
    },
}

impl Identity {
    /// `"Example Support" <support@example.test>`.
    pub fn new(
        name: &str,
        address: &str,
        addressing: Addressing,
    ) -> Result<Identity, lettre::address::AddressError> {
        Ok(Identity {
            from: Mailbox::new(Some(one_line(name)), address.parse()?),
            addressing,
            loop_id: address.to_owned(),
        })
    }
}

/// Composes the row. `Date` is the row's creation time, so a retried
/// notification keeps the date it was written at.
pub fn compose(row: &Outgoing, me: &Identity) -> Result<Message, ComposeError> {
    let build = |source| ComposeError::Build {
        row: row.id,
        source,
    };
    // A mail to one person carries that person's reply address: their
    // answer to it proves who wrote (DESIGN §3 "Trust"). Every notification
    // row has one recipient; should one ever have several, the per-ticket
    // address still threads.
    let reply_to = match (&row.ticket, row.to.as_slice()) {
        (Some(t), [one]) => Some(me.addressing.personal_address(t.id, one)),
        (Some(t), _) => Some(me.addressing.reply_address(t.id)),
        (None, _) => None,
    }
    .and_then(|a| a.parse().ok())
    .map(|a| Mailbox::new(me.from.name.clone(), a))
    .unwrap_or_else(|| me.from.clone());
    let mut b = Message::builder()
        .from(me.from.clone())
        .reply_to(reply_to)
        .subject(bounded(&one_line(&row.subject), MAX_SUBJECT_CHARS))
        .date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(row.created_at.0.max(0) as u64),
        )
        .message_id(Some(angle(&row.message_id)));
    if row.to.is_empty() {
        return Err(ComposeError::NoRecipient { row: row.id });
    }
    for to in &row.to {
        let address = to.parse().map_err(|_| ComposeError::BadRecipient {
            row: row.id,
            address: to.clone(),
        })?;
        b = b.to(Mailbox::new(None, address));
    }
    if let Some(irt) = row.in_reply_to.as_deref().filter(|id| fits(id)) {
        b = b.in_reply_to(angle(irt));
    }
    let refs = references(&row.references);
    if !refs.is_empty() {
        b = b.references(refs);
    }
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    b = b
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .raw_header(raw(OWN_LOOP_HEADER, me.loop_id.clone()))
        // Exchange and Outlook: send no out-of-office or read receipt back.
        .raw_header(raw("X-Auto-Response-Suppress", "All".into()))
        .raw_header(raw("X-Ticketd-Kind", row.kind.as_str().into()));
    if let Some(t) = &row.ticket {
        b = b
            .raw_header(raw(
                "Thread-Topic",
                bounded(&one_line(&t.subject), MAX_SUBJECT_CHARS),
            ))
            .raw_header(raw(
                "Thread-Index",
                thread_index(t, row.created_at, &row.message_id),
            ));
    }
    if row.kind.carries_password_link() {
        // The link is a credential: keep it out of "reply all" and archives.
        b = b.raw_header(raw("Precedence", "bulk".into()));
    }
    let boundary = format!(
        "=_ticketd_{}",
        &hex(&Sha256::digest(row.message_id.as_bytes()))[..24]
    );
    let html = html_of(row);
    b.multipart(
        MultiPart::alternative()
            .boundary(boundary)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(row.body_text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html),
            ),
    )
    .map_err(build)
}

/// The row's HTML alternative: drawn from its layout facts (as queued
/// since schema v13), or as queued before. A layout that cannot be read or
/// drawn (a row edited by hand) still lets the mail go, its HTML made from
/// the text alone: the words are what matter.
pub fn html_of(row: &Outgoing) -> String {
    if let Some(html) = &row.body_html {
        return html.clone();
    }
    let drawn = row.layout.as_deref().map(|l| {
        serde_json::from_str::<html_body::Facts>(l)
            .map_err(|e| e.to_string())
            .and_then(|facts| {
                html_body::draw(&facts, &row.subject, &row.body_text).map_err(|e| e.to_string())
            })
    });
    match drawn {
        Some(Ok(html)) => html,
        Some(Err(e)) => {
            tracing::warn!(row = row.id, error = %e, "outbox row's layout is unusable; its HTML is made from the text alone");
            html_body::from_text(&row.body_text)
        }
        None => html_body::from_text(&row.body_text),
    }
}

/// Characters of a subject kept in the headers ticketd writes: with RFC
/// 2047 encoding of four-byte characters that is still far below the 998
/// bytes a header line may have (DESIGN §4), whatever the customer sent.
const MAX_SUBJECT_CHARS: usize = 160;

/// `s` cut to `max` characters (with an ellipsis), on a character boundary.
fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The References value: the ids that fit, the thread's root first and the
/// newest last, within one header line (older middle ones are dropped, as
/// RFC 5322 §3.6.4 allows).
fn references(ids: &[String]) -> String {
    // "References: " and the line end leave 980 bytes for the ids.
    const ROOM: usize = 980;
    let ids: Vec<String> = ids.iter().filter(|i| fits(i)).map(|i| angle(i)).collect();
    let Some((first, rest)) = ids.split_first() else {
        return String::new();
    };
    let mut used = first.len();
    let mut tail: Vec<&str> = Vec::new();
    for id in rest.iter().rev() {
        if used + 1 + id.len() > ROOM {
            break;
        }
        used += 1 + id.len();
        tail.push(id);
    }
    tail.reverse();
    std::iter::once(first.as_str())
        .chain(tail)
        .collect::<Vec<_>>()
        .join(" ")
}

fn angle(id: &str) -> String {
    format!("<{}>", id.trim().trim_matches(['<', '>']))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Outlook's `Thread-Index`: a 22-byte header (6 bytes of the thread's start
/// as a FILETIME, then a 16-byte GUID) shared by every mail of the ticket,
/// plus a 5-byte child block that orders this mail in the thread. The GUID
/// comes from the ticket, so it is the same in every notification.
pub fn thread_index(t: &ThreadFacts, sent: Timestamp, message_id: &str) -> String {
    let root = filetime(t.created_at);
    let mut bytes = Vec::with_capacity(27);
    bytes.extend_from_slice(&root.to_be_bytes()[..6]);
    let guid = Sha256::digest(format!("ticketd-thread:{}:{}", t.id.0, t.created_at.0));
    bytes.extend_from_slice(&guid[..16]);
    // Child block: 1 bit 0, 31 bits of the time since the root (in units of
    // 2^18 × 100 ns ≈ 26 ms), 4 random-ish bits, a 4-bit sequence.
    let root_trunc = root & !0xFFFF; // what the 6 header bytes keep
    let delta = filetime(sent).saturating_sub(root_trunc) >> 18;
    let tail = Sha256::digest(message_id.as_bytes())[0];
    let block: u64 = ((delta & 0x7FFF_FFFF) << 8) | u64::from(tail);
    bytes.extend_from_slice(&block.to_be_bytes()[3..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// 100-ns intervals since 1601-01-01, as Windows counts time.
fn filetime(t: Timestamp) -> u64 {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    (t.0.max(0) as u64 + EPOCH_DIFF_SECS) * 10_000_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{NotificationKind, TicketId};

    fn facts() -> ThreadFacts {
        ThreadFacts {
            id: TicketId(42),
            subject: "Printer on fire".into(),
            created_at: Timestamp(1_700_000_000),
        }
    }

    #[test]
    fn thread_index_shares_its_22_byte_header_across_a_ticket() {
        let a = thread_index(&facts(), Timestamp(1_700_000_000), "a@x");
        let b = thread_index(&facts(), Timestamp(1_700_086_400), "b@x");
        let dec = |s: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("base64")
        };
        let (a, b) = (dec(&a), dec(&b));
        assert_eq!((a.len(), b.len()), (27, 27));
        assert_eq!(a[..22], b[..22], "same thread");
        assert!(b[22..] > a[22..], "the later mail sorts after");
        let other = ThreadFacts {
            id: TicketId(43),
            ..facts()
        };
        let c = dec(&thread_index(&other, Timestamp(1_700_000_000), "a@x"));
        assert_ne!(a[6..22], c[6..22], "another ticket, another GUID");
    }

    #[test]
    fn every_header_line_stays_within_998_bytes_whatever_the_customer_sent() {
        let me = Identity::new(
            "Example Support",
            "support@example.test",
            Addressing::new("support@example.test", &[], b"k".to_vec()),
        )
        .expect("identity");
        let huge_id = format!("{}@evil.example", "x".repeat(5000));
        for subject in ["A".repeat(5000), "é".repeat(3000), "😀".repeat(3000)] {
            let row = Outgoing {
                id: 1,
                kind: NotificationKind::TicketUpdated,
                to: vec!["ann@acme.test".into()],
                subject: format!("[#42] {subject}"),
                body_text: "hello".into(),
                body_html: None,
                layout: None,
                message_id: "m1.42@example.test".into(),
                in_reply_to: Some(huge_id.clone()),
                references: std::iter::once("root@acme.test".to_string())
                    .chain(std::iter::once(huge_id.clone()))
                    .chain((0..200).map(|i| format!("id{i}.{}@example.test", "y".repeat(40))))
                    .collect(),
                ticket: Some(ThreadFacts { subject, ..facts() }),
                created_at: Timestamp(1_700_000_000),
                attempts: 0,
            };
            let mail = String::from_utf8(compose(&row, &me).expect("composes").formatted())
                .expect("utf-8");
            for line in mail.split("\r\n") {
                assert!(line.len() <= 998, "{} bytes: {}…", line.len(), &line[..80]);
            }
            // (lettre may fold the header; the ids are what matter.)
            assert!(mail.contains("<root@acme.test>"), "the root stays");
            assert!(mail.contains("<id199."), "the newest stays");
            assert!(!mail.contains("<id0."), "the oldest middle ones go");
            assert!(
                !mail.contains(&huge_id),
                "the 5,000-character id is dropped"
            );
        }
    }

    #[test]
    fn filetime_matches_windows() {
        // 1970-01-01 is 116444736000000000 in FILETIME.
        assert_eq!(filetime(Timestamp(0)), 116_444_736_000_000_000);
    }
}
