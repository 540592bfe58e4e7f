//! Reports as real MTAs write them, and the malformed ones.

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
