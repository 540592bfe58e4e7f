//! Plain-text bounces: the notices many MTAs still send instead of a
//! delivery-status part, in a dozen dialects.

use super::*;

// Plain-text bounces

pub(super) static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)undeliver|not delivered|delivery (?:status notification|failure|failed|has failed|problem|notification|report|delayed)",
        r"|mail delivery failed|returned mail|returned to sender|failure notice|mail failure|mail system error",
        r"|could not send message|delayed mail|nondeliverable|non-deliverable|unzustellbar|non remis",
        r"|no se puede entregar|non recapitabile|onbestelbaar|não entregue|olevererbart",
        r"|не доставлено|未送達|无法投递|無法傳遞"
    ))
});

pub(super) static BOUNCE_TEXT: LazyLock<Regex> = LazyLock::new(|| {
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
pub(super) static PERMANENT_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)permanent (?:error|failure)|failed permanently|fatal error|i've given up|giving up")
});
/// A delay warning: the MTA is still trying.
pub(super) static TRANSIENT_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)warning: could not send|this is a warning message|will (?:keep|continue) trying|still being retried",
        r"|delivery (?:is |has been )?delayed|delayed mail|will retry|has not yet been delivered|temporar(?:y|ily) (?:error|failure|problem)"
    ))
});
/// Otherwise a failure without a word about retrying is taken as final.
pub(super) static HARD_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)undeliver|undelivered|delivery (?:has )?failed|could not be delivered|couldn't be delivered",
        r"|wasn't delivered|was not delivered|not delivered|unable to deliver|wasn't able to deliver",
        r"|user unknown|unknown user|no such user|does not exist|failure notice|failure reasons|mail failure|rejected"
    ))
});

/// A line that starts the copy of the returned message.
pub(super) static RETURNED_COPY: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)^[\s\-=*_]*(?:this is a copy of the message|below this line is a copy of the message",
        r"|original message|returned message|undelivered message|unsent message|message headers follow",
        r"|enclosed are the original headers|headers of the original message|text of the original message)",
        r"|^(?:received|return-path|dkim-signature|message-id|x-received):"
    ))
});

/// A line that begins with a recipient address: `  user@host`,
/// `<user@host>:`, `user@host<mailto:user@host>`, `<user@host>... Deferred`.
pub(super) static RECIPIENT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"^\s*<?([^\s<>()\[\]@,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?)>?\s*(?:$|:|\.\.\.|<mailto:)"#,
    )
});

/// `Delivery failed 10 attempts: user@host`.
pub(super) static FAILED_INLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)\b(?:delivery failed|failed|undeliverable|could not be delivered|unable to deliver)\b[^\n]*?:\s*<?([^\s<>()\[\]@,;:"]+@[A-Za-z0-9.\-]+[A-Za-z0-9])>?\s*$"#,
    )
});

/// Local parts that only machines write from.
pub(super) const DAEMON_LOCALS: &[&str] = &[
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
pub(super) fn sender(msg: &Message<'_>) -> String {
    from_address(msg).unwrap_or_default()
}

/// A bounce that is not a `multipart/report`: from a mailer daemon or
/// postmaster (or carrying the MTA-only `X-Failed-Recipients`), and saying
/// in its subject or text that mail was not delivered. A person forwarding
/// a bounce to support is not a bounce: that mail is from the person.
pub(super) fn nonstandard_bounce(
    msg: &Message<'_>,
    root: &MessagePart<'_>,
) -> Option<DeliveryReport> {
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

pub(super) fn subject_and(msg: &Message<'_>, notice: &str) -> String {
    format!("{}\n{notice}", subject(msg))
}

/// Upper bound on the text scanned per message, so that a huge bounce costs
/// no more than a normal one.
pub(super) const MAX_SCAN: usize = 256 * 1024;

/// Upper bound on the recipients read from one report. ticketd's own
/// notifications go to a handful of people; a report naming thousands is
/// either a mass mailing or an attack, and must not cost quadratic time.
pub(super) const MAX_RECIPIENTS: usize = 500;

/// The human-readable text of the report: its `text/plain` parts (not the
/// returned message, which is a nested message), decoded.
pub(super) fn notification_text(msg: &Message<'_>) -> String {
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
pub(super) fn split_at_returned_copy(text: &str) -> (&str, &str) {
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
pub(super) fn text_recipients(notice: &str, from: &str) -> Vec<RecipientStatus> {
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
pub(super) fn add_header_recipients(msg: &Message<'_>, recipients: &mut Vec<RecipientStatus>) {
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
pub(super) fn finish(report: &mut DeliveryReport, text: &str, from_text: bool) {
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
