//! Is this mail for a person, or a machine talking? Loops, our own mail,
//! bounces, feedback reports, read receipts, auto-replies and bulk mail never
//! create a ticket and never get an acknowledgement (which is how mail storms
//! start); everything else is normal mail.
//!
//! The rules weigh false positives heavily: a customer's mail dropped as
//! "auto-reply" is lost silently, while an auto-reply taken for a customer
//! costs one stray ticket (and the shared notification budget stops any
//! storm). So only signals that ordinary clients never set decide alone;
//! signals that also appear on ordinary mail (`X-Auto-Response-Suppress`,
//! which Outlook puts on plenty of normal messages; the Exchange inbox-rule
//! marker, also set on rule-forwarded mail; a bare `Auto:` subject) count
//! only together with more evidence.

use mail_parser::{HeaderName, Message};

use super::report::{self, DeliveryReport};

/// The header ticketd puts on everything it sends; its value is the
/// installation's loop id.
pub const OWN_LOOP_HEADER: &str = "X-Ticketd-Loop";

/// Header facts of one message that the classifier looks at. Values are raw
/// header text (unfolded, trimmed); the subject is decoded.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// From address, lower-cased.
    pub from: Option<String>,
    /// `Auto-Submitted` (RFC 3834).
    pub auto_submitted: Option<String>,
    /// Our own loop header's value.
    pub own_loop: Option<String>,
    /// Every `X-Loop` value (procmail, many helpdesks).
    pub x_loop: Vec<String>,
    /// `Precedence`, lower-cased.
    pub precedence: Option<String>,
    /// `X-Auto-Response-Suppress` (Exchange/Outlook).
    pub auto_response_suppress: Option<String>,
    pub x_autoreply: Option<String>,
    pub x_autorespond: Option<String>,
    /// `X-MS-Exchange-Inbox-Rules-Loop` is present.
    pub inbox_rules_loop: bool,
    /// `X-Apple-Action` (iCloud vacation replies say `VACATION`).
    pub apple_action: Option<String>,
    pub list_id: Option<String>,
    pub list_unsubscribe: bool,
    /// To and Cc addresses, lower-cased (the first 100): was the mail
    /// written to us, or to a list we are on?
    pub to_cc: Vec<String>,
    /// The envelope sender was null: `Return-Path: <>`.
    pub null_return_path: bool,
    /// Decoded subject.
    pub subject: Option<String>,
    /// Top-level content type, lower-cased (`multipart/report`).
    pub content_type: Option<String>,
    /// A bounce, feedback report or read receipt, read from the body.
    pub report: Option<DeliveryReport>,
}

impl Signals {
    /// Reads the signals of a parsed message. Never panics, whatever the
    /// message (even one with no parts at all).
    pub fn from_message(msg: &Message<'_>) -> Signals {
        let first = |name: &str| report::raw_headers(msg, name).into_iter().next();
        let content_type = msg.parts.first().and_then(|root| {
            root.headers
                .iter()
                .rev()
                .find(|h| h.name == HeaderName::ContentType)
                .and_then(|h| h.value.as_content_type())
                .map(|ct| {
                    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase()
                })
        });
        let subject = report::subject(msg);
        Signals {
            from: report::from_address(msg),
            auto_submitted: first("Auto-Submitted"),
            own_loop: first(OWN_LOOP_HEADER),
            x_loop: report::raw_headers(msg, "X-Loop"),
            precedence: first("Precedence").map(|p| p.to_ascii_lowercase()),
            auto_response_suppress: first("X-Auto-Response-Suppress"),
            x_autoreply: first("X-Autoreply"),
            x_autorespond: first("X-Autorespond"),
            inbox_rules_loop: first("X-MS-Exchange-Inbox-Rules-Loop").is_some(),
            apple_action: first("X-Apple-Action"),
            list_id: first("List-Id"),
            list_unsubscribe: first("List-Unsubscribe").is_some(),
            // (mail-parser's accessors index the root part: none, no headers.)
            to_cc: (!msg.parts.is_empty())
                .then(|| msg.to().into_iter().chain(msg.cc()))
                .into_iter()
                .flatten()
                .flat_map(|a| a.iter())
                .filter_map(|a| a.address())
                .take(100)
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
            // The first Return-Path is the one the delivering MTA wrote.
            null_return_path: first("Return-Path")
                .is_some_and(|v| v.chars().filter(|c| !c.is_whitespace()).eq("<>".chars())),
            subject: (!subject.is_empty()).then_some(subject),
            content_type,
            report: report::delivery_report(msg),
        }
    }
}

/// What "us" means for this installation.
pub struct ClassifyContext<'a> {
    /// The support address, its aliases and plus-variants, lower-cased.
    pub own_addresses: &'a [String],
    /// The value of our loop header on mail we sent.
    pub loop_id: &'a str,
}

/// Which signal made a message an auto-reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoReplyReason {
    /// `Auto-Submitted` other than `no`.
    AutoSubmitted,
    XAutoreply,
    XAutorespond,
    /// `X-Apple-Action: VACATION`.
    AppleVacation,
    /// `Precedence: auto_reply`.
    Precedence,
    /// An out-of-office subject (`Automatic reply:`, `Out of Office:`, ...).
    Subject,
    /// `X-MS-Exchange-Inbox-Rules-Loop`, with more evidence.
    ExchangeInboxRules,
    /// `X-Auto-Response-Suppress`, with more evidence.
    ExchangeSuppress,
    /// `Return-Path: <>`: only DSNs, MDNs and auto-responses use the null
    /// sender (RFC 5321 §4.5.5, RFC 3834 §3.3).
    NullSender,
    /// From a mailer daemon or postmaster, but not a recognisable bounce.
    DaemonSender,
}

impl AutoReplyReason {
    /// Stable name, for the event log and `explain`.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoReplyReason::AutoSubmitted => "auto_submitted",
            AutoReplyReason::XAutoreply => "x_autoreply",
            AutoReplyReason::XAutorespond => "x_autorespond",
            AutoReplyReason::AppleVacation => "apple_vacation",
            AutoReplyReason::Precedence => "precedence",
            AutoReplyReason::Subject => "subject",
            AutoReplyReason::ExchangeInboxRules => "exchange_inbox_rules",
            AutoReplyReason::ExchangeSuppress => "x_auto_response_suppress",
            AutoReplyReason::NullSender => "null_sender",
            AutoReplyReason::DaemonSender => "daemon_sender",
        }
    }
}

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    Normal,
    /// Carries our own loop header: ticketd's own mail came back.
    Loop,
    /// From one of our own addresses.
    OwnMail,
    Bounce(DeliveryReport),
    AutoReply {
        why: AutoReplyReason,
    },
    /// A feedback (abuse) report or a read receipt.
    Report(DeliveryReport),
    /// `Precedence: bulk`, `junk` or `list` (DESIGN §3).
    Bulk,
}

impl Classification {
    /// The contract's `reason` for an ignored mail; `None` for normal mail.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Classification::Normal => None,
            Classification::Loop => Some("loop"),
            Classification::OwnMail => Some("own_mail"),
            Classification::Bounce(_) => Some("bounce"),
            Classification::AutoReply { .. } => Some("auto_reply"),
            Classification::Report(r) => Some(match r.kind {
                report::ReportKind::ReadReceipt => "read_receipt",
                _ => "feedback_report",
            }),
            Classification::Bulk => Some("bulk"),
        }
    }
}

/// Out-of-office subject prefixes that people do not type themselves
/// (Outlook/Exchange in several languages, Lotus Notes, generic vacation
/// programs). Lower-case; matched at the very start of the subject and
/// followed by a colon, so "Out of office hours support?" stays normal mail.
const AUTO_SUBJECT_PREFIXES: &[&str] = &[
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "automatic response",
    "out of office",
    "out of the office",
    "out of office autoreply",
    "out of office reply",
    "abwesenheitsnotiz",
    "automatische antwort",
    "réponse automatique",
    "respuesta automática",
    "respuesta automatica",
    "risposta automatica",
    "automatisch antwoord",
    "resposta automática",
    "autosvar",
    "automatisk svar",
    "automaattinen vastaus",
    "odpowiedź automatyczna",
    "автоматический ответ",
    "自動回覆",
    "自动回复",
    "自動応答",
    "自動返信",
];

/// A subject that is exactly one of these (no colon) is an auto-reply too.
const AUTO_SUBJECTS_WHOLE: &[&str] = &["out of office", "out of the office", "automatic reply"];

/// Strong subject evidence: an auto-reply prefix followed by a colon.
fn auto_subject(subject: &str) -> bool {
    let s = subject.trim().to_lowercase();
    if AUTO_SUBJECTS_WHOLE.contains(&s.as_str()) {
        return true;
    }
    AUTO_SUBJECT_PREFIXES.iter().any(|p| {
        s.strip_prefix(p)
            .map(str::trim_start)
            .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('：'))
    })
}

/// Weak subject evidence: `Auto:` is also the start of many a subject about
/// cars ("Auto: Reparatur"), so it needs company.
fn weak_auto_subject(subject: &str) -> bool {
    let s = subject.trim_start();
    s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("auto:"))
}

/// `Auto-Submitted: auto-replied`, `auto-generated (failure)`, ... but not
/// `no` (RFC 3834 §5).
fn auto_submitted(value: &str) -> bool {
    let keyword = value.split(['(', ';']).next().unwrap_or_default().trim();
    !keyword.is_empty() && !keyword.eq_ignore_ascii_case("no")
}

/// `X-Autoreply: yes` and friends; an explicit no/false says the opposite.
fn flag_set(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty()
        && !["no", "false", "0"]
            .iter()
            .any(|n| v.eq_ignore_ascii_case(n))
}

fn precedence_is(s: &Signals, values: &[&str]) -> bool {
    s.precedence
        .as_deref()
        .and_then(|p| p.split([' ', ';', '(']).next())
        .is_some_and(|p| values.contains(&p))
}

/// Classifies one message. First match wins: our own loop header, our own
/// address, a report, auto-reply evidence, bulk precedence.
pub fn classify(s: &Signals, ctx: &ClassifyContext<'_>) -> Classification {
    if s.own_loop.as_deref().map(str::trim) == Some(ctx.loop_id) && !ctx.loop_id.is_empty() {
        return Classification::Loop;
    }
    // Our address, an alias, or a plus-variant of one (support+7-…@).
    let is_own = |a: &str| {
        let a = super::address::base_address(&a.trim().to_ascii_lowercase());
        ctx.own_addresses.iter().any(|o| o.eq_ignore_ascii_case(&a))
    };
    if s.x_loop
        .iter()
        .any(|v| is_own(v.trim_start_matches('<').trim_end_matches('>')))
    {
        return Classification::Loop;
    }
    if s.from.as_deref().is_some_and(is_own) {
        return Classification::OwnMail;
    }
    if let Some(r) = &s.report {
        return if r.kind.is_bounce() {
            Classification::Bounce(r.clone())
        } else {
            Classification::Report(r.clone())
        };
    }
    if let Some(why) = auto_reply(s) {
        return Classification::AutoReply { why };
    }
    if precedence_is(s, &["bulk", "junk", "list"]) {
        return Classification::Bulk;
    }
    // A list's post that reached us only as a member of the list (not
    // written to us, nor Cc'd to us), with the list's unsubscribe link:
    // list traffic, not a request. List-Id alone is not enough: a support
    // address is often itself a list or group alias (then the mail is
    // addressed to an alias the operator may not have configured).
    if s.list_id.is_some() && s.list_unsubscribe && !s.to_cc.iter().any(|a| is_own(a)) {
        return Classification::Bulk;
    }
    Classification::Normal
}

/// The auto-reply rules, strongest first.
fn auto_reply(s: &Signals) -> Option<AutoReplyReason> {
    let subject = s.subject.as_deref().unwrap_or_default();
    let strong = [
        (
            s.auto_submitted.as_deref().is_some_and(auto_submitted),
            AutoReplyReason::AutoSubmitted,
        ),
        (
            s.x_autoreply.as_deref().is_some_and(flag_set),
            AutoReplyReason::XAutoreply,
        ),
        (
            s.x_autorespond.as_deref().is_some_and(flag_set),
            AutoReplyReason::XAutorespond,
        ),
        (
            s.apple_action
                .as_deref()
                .is_some_and(|a| a.trim().eq_ignore_ascii_case("vacation")),
            AutoReplyReason::AppleVacation,
        ),
        (
            precedence_is(s, &["auto_reply", "auto-reply"]),
            AutoReplyReason::Precedence,
        ),
        (auto_subject(subject), AutoReplyReason::Subject),
    ];
    if let Some((_, why)) = strong.iter().find(|(hit, _)| *hit) {
        return Some(*why);
    }
    let weak: Vec<AutoReplyReason> = [
        (s.inbox_rules_loop, AutoReplyReason::ExchangeInboxRules),
        (
            s.auto_response_suppress
                .as_deref()
                .is_some_and(|v| !v.trim().is_empty()),
            AutoReplyReason::ExchangeSuppress,
        ),
        (weak_auto_subject(subject), AutoReplyReason::Subject),
    ]
    .into_iter()
    .filter(|(hit, _)| *hit)
    .map(|(_, why)| why)
    .collect();
    let corroborated = weak.len() >= 2 || s.null_return_path || precedence_is(s, &["bulk", "junk"]);
    if let Some(first) = weak.first().filter(|_| corroborated) {
        return Some(*first);
    }
    if s.null_return_path {
        return Some(AutoReplyReason::NullSender);
    }
    if s.from.as_deref().is_some_and(report::is_daemon_address) {
        return Some(AutoReplyReason::DaemonSender);
    }
    None
}

#[cfg(test)]
mod tests;
