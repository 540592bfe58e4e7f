//! Loops, bounces, auto-replies and the mail that only looks like them.

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
    let list = "List-Id: Users <users.lists.example>\nList-Unsubscribe: <mailto:u@lists.example>\n";
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
    let plus = mail(list, "x").replace("To: support@example.com", "To: support+7-ab@example.com");
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
