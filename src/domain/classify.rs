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
mod tests {
    use super::*;
    use crate::domain::report::ReportKind;
    use mail_parser::MessageParser;

    const OWN: &[&str] = &["support@example.com", "help@example.com"];

    fn signals(raw: &str) -> Signals {
        match MessageParser::default().parse(raw.as_bytes()) {
            Some(msg) => Signals::from_message(&msg),
            None => panic!("test message did not parse"),
        }
    }

    fn class(raw: &str) -> Classification {
        let own: Vec<String> = OWN.iter().map(|s| s.to_string()).collect();
        classify(
            &signals(raw),
            &ClassifyContext {
                own_addresses: &own,
                loop_id: "loop-123",
            },
        )
    }

    fn auto(raw: &str) -> Option<AutoReplyReason> {
        match class(raw) {
            Classification::AutoReply { why } => Some(why),
            _ => None,
        }
    }

    /// An ordinary customer mail, with whatever extra headers a test adds.
    fn mail(extra: &str, subject: &str) -> String {
        format!(
            "From: Ivy <ivy@customer.example>\nTo: support@example.com\n{extra}Subject: {subject}\n\
             Message-ID: <i1@customer.example>\n\nMy printer is broken.\n"
        )
    }

    #[test]
    fn ordinary_mail_is_normal() {
        let c = class(&mail("", "Printer broken"));
        assert_eq!(c, Classification::Normal);
        assert_eq!(c.reason(), None);
    }

    #[test]
    fn own_loop_header_with_our_id_is_a_loop() {
        assert_eq!(
            class(&mail("X-Ticketd-Loop: loop-123\n", "Re: [#4] x")),
            Classification::Loop
        );
        assert_eq!(Classification::Loop.reason(), Some("loop"));
    }

    #[test]
    fn loop_header_of_another_installation_is_not_ours() {
        assert_eq!(
            class(&mail("X-Ticketd-Loop: other\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn x_loop_naming_our_address_is_a_loop() {
        assert_eq!(
            class(&mail("X-Loop: Support@Example.com\n", "x")),
            Classification::Loop
        );
        assert_eq!(
            class(&mail("X-Loop: someone-else\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn mail_from_our_own_address_is_own_mail() {
        let raw = "From: Support <SUPPORT@example.com>\nSubject: hi\n\nx\n";
        assert_eq!(class(raw), Classification::OwnMail);
        assert_eq!(Classification::OwnMail.reason(), Some("own_mail"));
    }

    #[test]
    fn delivery_status_report_is_a_bounce() {
        let raw = "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n\
            Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n\
            --b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@x.example\n\
            Action: failed\nStatus: 5.1.1\n--b--\n";
        let c = class(raw);
        assert!(matches!(&c, Classification::Bounce(r) if r.status.as_deref() == Some("5.1.1")));
        assert_eq!(c.reason(), Some("bounce"));
    }

    #[test]
    fn bounce_beats_auto_submitted() {
        let raw = "From: Mailer-Daemon@relay.example\nAuto-Submitted: auto-replied\n\
            Subject: Mail delivery failed: returning message to sender\n\n\
            The following address(es) failed:\n\n  b@x.example\n";
        assert!(matches!(class(raw), Classification::Bounce(_)));
    }

    #[test]
    fn feedback_and_read_receipt_are_reports() {
        let arf = "From: fbl@isp.example\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\n\n\
            --b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n--b--\n";
        let c = class(arf);
        assert!(matches!(&c, Classification::Report(r) if r.kind == ReportKind::Feedback));
        assert_eq!(c.reason(), Some("feedback_report"));
        let mdn = "From: j@x.example\nContent-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n\
            --b\nContent-Type: message/disposition-notification\n\nDisposition: automatic-action/MDN-sent-automatically; displayed\n--b--\n";
        assert_eq!(class(mdn).reason(), Some("read_receipt"));
    }

    #[test]
    fn auto_submitted_other_than_no() {
        assert_eq!(
            auto(&mail("Auto-Submitted: auto-replied\n", "Away until May 5")),
            Some(AutoReplyReason::AutoSubmitted)
        );
        assert_eq!(
            auto(&mail("Auto-Submitted: auto-generated (warning)\n", "x")),
            Some(AutoReplyReason::AutoSubmitted)
        );
        assert_eq!(
            class(&mail("Auto-Submitted: No\n", "x")),
            Classification::Normal
        );
        assert_eq!(
            class(&mail("Auto-Submitted: no (manual)\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn x_autoreply_and_x_autorespond() {
        assert_eq!(
            auto(&mail("X-Autoreply: yes\n", "x")),
            Some(AutoReplyReason::XAutoreply)
        );
        assert_eq!(
            auto(&mail("X-Autorespond: Vacation\n", "x")),
            Some(AutoReplyReason::XAutorespond)
        );
        assert_eq!(
            class(&mail("X-Autoreply: no\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn apple_vacation() {
        assert_eq!(
            auto(&mail("X-Apple-Action: VACATION\n", "Re: x")),
            Some(AutoReplyReason::AppleVacation)
        );
        assert_eq!(
            class(&mail("X-Apple-Action: FORWARD\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn out_of_office_subjects() {
        for s in [
            "Automatic reply: Your order",
            "Auto reply: hello",
            "AutoReply: hello",
            "Out of Office: hello",
            "Out of Office AutoReply: hello",
            "Abwesenheitsnotiz: Rechnung",
            "Réponse automatique : facture",
            "Out of office",
        ] {
            assert_eq!(auto(&mail("", s)), Some(AutoReplyReason::Subject), "{s}");
        }
    }

    #[test]
    fn subjects_people_write_stay_normal() {
        for s in [
            "Out of office hours support?",
            "Re: Automatic reply: hello",
            "Question about your auto reply feature",
            "Auto: Reparatur",
            "Autoreply settings broken",
        ] {
            assert_eq!(class(&mail("", s)), Classification::Normal, "{s}");
        }
    }

    #[test]
    fn x_auto_response_suppress_alone_is_normal_mail() {
        // Outlook sets it on ordinary mail.
        assert_eq!(
            class(&mail("X-Auto-Response-Suppress: All\n", "x")),
            Classification::Normal
        );
        assert_eq!(
            class(&mail("X-Auto-Response-Suppress: OOF, AutoReply\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn x_auto_response_suppress_with_more_evidence() {
        assert_eq!(
            auto(&mail(
                "X-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: ivy@customer.example\n",
                "Nyaan"
            )),
            Some(AutoReplyReason::ExchangeInboxRules)
        );
        assert_eq!(
            auto(&mail(
                "X-Auto-Response-Suppress: All\nPrecedence: bulk\n",
                "x"
            )),
            Some(AutoReplyReason::ExchangeSuppress)
        );
        assert_eq!(
            auto(&mail(
                "X-Auto-Response-Suppress: All\n",
                "Auto: Ihre Nachricht"
            )),
            Some(AutoReplyReason::ExchangeSuppress)
        );
    }

    #[test]
    fn inbox_rules_loop_alone_is_normal_mail() {
        // Also set on mail an inbox rule forwarded: possibly a real request.
        assert_eq!(
            class(&mail(
                "X-MS-Exchange-Inbox-Rules-Loop: ivy@customer.example\n",
                "Fw: order"
            )),
            Classification::Normal
        );
    }

    #[test]
    fn null_sender_is_never_a_person() {
        assert_eq!(
            auto(&mail("Return-Path: <>\n", "x")),
            Some(AutoReplyReason::NullSender)
        );
        assert_eq!(
            auto(&mail(
                "Return-Path: <>\nX-Auto-Response-Suppress: All\n",
                "x"
            )),
            Some(AutoReplyReason::ExchangeSuppress)
        );
        assert_eq!(
            class(&mail("Return-Path: <ivy@customer.example>\n", "x")),
            Classification::Normal
        );
    }

    #[test]
    fn daemon_sender_without_bounce_words() {
        let raw = "From: MAILER-DAEMON@mx.example\nSubject: Quota notice\n\nYou are fine.\n";
        assert_eq!(auto(raw), Some(AutoReplyReason::DaemonSender));
    }

    #[test]
    fn precedence_bulk_and_junk_are_bulk() {
        assert_eq!(
            class(&mail("Precedence: bulk\n", "Newsletter")),
            Classification::Bulk
        );
        assert_eq!(
            class(&mail("Precedence: JUNK\n", "Offer")),
            Classification::Bulk
        );
        assert_eq!(Classification::Bulk.reason(), Some("bulk"));
    }

    #[test]
    fn precedence_bulk_with_auto_reply_evidence_is_an_auto_reply() {
        assert_eq!(
            auto(&mail(
                "Precedence: bulk\nAuto-Submitted: auto-replied\n",
                "x"
            )),
            Some(AutoReplyReason::AutoSubmitted)
        );
        assert_eq!(
            auto(&mail("Precedence: auto_reply\n", "x")),
            Some(AutoReplyReason::Precedence)
        );
    }

    #[test]
    fn list_mail_is_bulk_unless_it_was_written_to_us() {
        // Someone who writes to support and Cc's a list is a customer; a
        // post that reached support only as a member of the list is list
        // traffic. A list that says `Precedence: list` is bulk mail (DESIGN §3).
        let list =
            "List-Id: Users <users.lists.example>\nList-Unsubscribe: <mailto:u@lists.example>\n";
        let s = signals(&mail(list, "Bug in 2.1"));
        assert!(s.list_id.is_some() && s.list_unsubscribe);
        assert_eq!(class(&mail(list, "Bug in 2.1")), Classification::Normal);
        let via_list =
            mail(list, "Bug in 2.1").replace("To: support@example.com", "To: users@lists.example");
        assert_eq!(class(&via_list), Classification::Bulk);
        let id_only = via_list.replace("List-Unsubscribe: <mailto:u@lists.example>\n", "");
        assert_eq!(
            class(&id_only),
            Classification::Normal,
            "List-Id alone: maybe our alias"
        );
        let plus =
            mail(list, "x").replace("To: support@example.com", "To: support+7-ab@example.com");
        assert_eq!(
            class(&plus),
            Classification::Normal,
            "a plus-variant of ours is us"
        );
        let with_precedence = format!("{list}Precedence: list\n");
        assert_eq!(
            class(&mail(&with_precedence, "Bug in 2.1")),
            Classification::Bulk
        );
    }

    #[test]
    fn signals_are_read_from_headers() {
        let s = signals(&mail(
            "Auto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\nPrecedence: Bulk\n\
             X-Loop: a@b\nX-Loop: c@d\nReturn-Path: < >\n",
            "=?UTF-8?Q?Automatische_Antwort=3A_x?=",
        ));
        assert_eq!(s.from.as_deref(), Some("ivy@customer.example"));
        assert_eq!(s.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(s.precedence.as_deref(), Some("bulk"));
        assert_eq!(s.x_loop, ["a@b", "c@d"]);
        assert!(s.null_return_path);
        assert_eq!(s.subject.as_deref(), Some("Automatische Antwort: x"));
        assert_eq!(s.content_type, None);
        assert!(s.report.is_none());
    }

    #[test]
    fn reasons_have_stable_names() {
        assert_eq!(AutoReplyReason::AutoSubmitted.as_str(), "auto_submitted");
        assert_eq!(
            AutoReplyReason::ExchangeSuppress.as_str(),
            "x_auto_response_suppress"
        );
        assert_eq!(
            Classification::AutoReply {
                why: AutoReplyReason::Subject
            }
            .reason(),
            Some("auto_reply")
        );
    }

    #[test]
    fn empty_message_has_no_signals() {
        let s = Signals::from_message(&Message::default());
        assert!(s.from.is_none() && s.report.is_none() && !s.null_return_path);
    }
}
