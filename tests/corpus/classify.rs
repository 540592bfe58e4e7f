//! Classification of every full message in the corpus (the 222 `.eml`,
//! `.raw` and MimeKit `.txt` messages): bounces must be bounces, auto-replies
//! auto-replies, feedback reports and read receipts reports, and everything
//! else normal mail. Where the upstream projects assert delivery-report
//! details (sisimai's status per recipient, flanker's status and diagnostic,
//! MimeKit's status groups, the mail gem's DSN fields) those are checked too,
//! and for every report the returned message's Message-ID and the failed
//! recipients, transcribed by hand from the messages into `REPORTS` below.

use crate::common::{files, read_text, SourceResult};
use mail_parser::MessageParser;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ticketd::domain::classify::{classify, Classification, ClassifyContext, Signals};
use ticketd::domain::rawmail::normalize_line_endings;
use ticketd::domain::report::{DeliveryReport, ReportKind};

/// What a message must be classified as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Normal,
    Bounce,
    AutoReply,
    Feedback,
    ReadReceipt,
    Bulk,
}

/// Messages outside the folders that say what they are, with the reason.
const SPECIAL: &[(&str, Expect, &str)] = &[
    (
        "enmime/mail/multipart-wo-boundary.raw",
        Expect::Bounce,
        "From Mailer-Daemon, subject 'Delivery Status Notification (Failure)', \
         multipart/report without boundary: a (broken) bounce notice",
    ),
    (
        "flanker/messages/from-encoding.eml",
        Expect::Bulk,
        "a 1997 majordomo list post carrying 'Precedence: bulk'",
    ),
    (
        "stalwart_mail_parser/eml/thirdparty/014.eml",
        Expect::Bulk,
        "a mailing-list post carrying 'Precedence: list', which DESIGN §3 \
         names among the mail that never makes a ticket",
    ),
    (
        "ruby_mail_gem/error_emails/bad_date_header.eml",
        Expect::Bulk,
        "spam carrying 'Precedence: junk'",
    ),
];

/// Every report in the corpus: returned message's Message-ID (without `<>`)
/// and the failed recipients, read off the messages by hand. An empty list
/// means the report names no recipient ticketd could use.
const REPORTS: &[(&str, Option<&str>, &[&str])] = &[
    ("enmime/mail/multipart-wo-boundary.raw", None, &[]),
    (
        "flanker/messages/bounce/broken-mime.eml",
        None,
        &["info@example.net"],
    ),
    (
        "flanker/messages/bounce/delayed-broken.eml",
        None,
        &["demo@example.com"],
    ),
    (
        "flanker/messages/bounce/delayed.eml",
        None,
        &["foo@example.com"],
    ),
    (
        "flanker/messages/bounce/gmail-invalid-address.eml",
        Some("CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com"),
        &["awfawfawfawfawfaw@someserverhere.com"],
    ),
    (
        "flanker/messages/bounce/gmail-no-dns.eml",
        None,
        &["user@example.comm"],
    ),
    (
        "flanker/messages/bounce/mailbox-full.eml",
        Some("4E326A95.3010907@example.com"),
        &["user@aol.com"],
    ),
    (
        "flanker/messages/bounce/no-mx.eml",
        Some("19E44CA63F984902B7D654F8FF40F89D@bo"),
        &["user@example.com"],
    ),
    (
        "flanker/messages/bounce/office365.eml",
        Some("20171013111011.20866.254C2F3A4D7AA526@ninomail.com"),
        &["noname@example.com"],
    ),
    (
        "flanker/messages/bounce/zed.eml",
        Some("20090708054735.GC7578@example.com"),
        &["asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com"],
    ),
    (
        "flanker/messages/complaints/aol.eml",
        Some("20101117174130.28884.55421@luna"),
        &[],
    ),
    (
        "flanker/messages/complaints/yahoo.eml",
        Some("20120711015015.4A8BE2E088E@www.example.com"),
        &[],
    ),
    (
        "flanker/messages/disposition-notification.eml",
        Some("199509192301.23456@example.org"),
        &[],
    ),
    (
        "mimekit/messages/bounce.txt",
        Some("44565655.JitbitHelpdesk.13439.691a0afc-a0a0-457c-8208-f20b7c4a4cb1@jitbit.com"),
        &["netec.test@netecgc.com"],
    ),
    (
        "mimekit/messages/delivery-status-multiple-blank-lines.txt",
        None,
        &["orig_recip@customer.com"],
    ),
    (
        "mimekit/messages/delivery-status-no-blank-line.txt",
        Some("31FC7EB4.41C6@netscape.com"),
        &["newsletter-request@imusic.com"],
    ),
    (
        "mimekit/messages/delivery-status.txt",
        Some("31FC7EB4.41C6@netscape.com"),
        &["newsletter-request@imusic.com"],
    ),
    (
        "mimekit/messages/delivery-status2.txt",
        None,
        &["source@domain.com"],
    ),
    (
        "mimekit/messages/disposition-notification.txt",
        Some("199509192301.23456@example.org"),
        &[],
    ),
    (
        "mimekit/messages/feedback-report.txt",
        Some("8787KJKJ3K4J3K4J3K4J3.mail@example.net"),
        &[],
    ),
    (
        "ruby_mail_gem/mime_emails/raw_email_with_mimepart_without_content_type.eml",
        Some("89d7557c0610181510r6fa5ebd8n66a7deec71ade118@mail.gmail.com"),
        &["larose.julie@courrier.uqam.ca"],
    ),
    (
        "ruby_mail_gem/multipart_report_emails/multi_address_bounce1.eml",
        Some("118707422.15521266992174819.JavaMail.root@lvmail01"),
        &[
            "bbbbvhvbbvkjbhfbvbvjhb@gmail.com",
            "bscdbcjhasbcjhbdscbhbsdhcbj@gmail.com",
            "egyfefsdvsfvvhjsd@gmail.com",
            "kfhejkfbsjkjsbhds@gmail.com",
            "qfvhgsvhgsduiohncdhcvhsdfvsfygusd@gmail.com",
        ],
    ),
    (
        "ruby_mail_gem/multipart_report_emails/multipart_report_multiple_status.eml",
        Some("4c2a146147ac8_61ff157c4ec1652df@s.h.c.mail"),
        &["u@ci.com"],
    ),
    (
        "ruby_mail_gem/multipart_report_emails/report_422.eml",
        Some("15655788.13.1200472642578.JavaMail.Administrator@mail.ttttt.com.au"),
        &["fraser@oooooooo.com.au"],
    ),
    (
        "ruby_mail_gem/multipart_report_emails/report_530.eml",
        Some("200712232303.lBNN3jDq002941@mail12.rrrr.com.au"),
        &["edwin@zzzzzzz.com"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-exim-01.eml",
        Some("E1P1ce6-000Egt-GZ@e1.example.org"),
        &["kijitora@example.ed.jp"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-gmail-01.eml",
        Some("D992C2C3-F175-4C4D-97E2-53A90E4E5BF5@gmail.com"),
        &["userunknown@example.jp"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-mailru-01.eml",
        Some("8F3CE2D8-D60E-48C3-B9AF-BED628EE2CA5@mail.example.ru"),
        &["kijitora@example.jp"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-notes-01.eml",
        Some("000000000.0000000000000.notes@example.co.jp"),
        &["kijitora@u1.example.co.jp"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-qmail-01.eml",
        Some("000000000.9999999999999.JavaMail.postmaster@mailhub"),
        &["kijitora@example.ne.jp"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-qmail-02.eml",
        None,
        &["userunknown@example.jp", "filtered@example.jp"],
    ),
    (
        "sisimai_bounces/bounce_nonstandard/lhost-yahoo-01.eml",
        Some("6AE6249A-E7A8-4980-862C-F499F6B8E7C5@y.example.co.jp"),
        &["kijitora@example.org"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-amazonses-01.eml",
        Some("000001321defbd2a-788e31c8-2be1-422f-a8d4-cf7765cc9ed7-000000@email.amazonses.com"),
        &["shironeko@example.co.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-exchange2007-01.eml",
        None,
        &["mikeneko@example.co.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-googleworkspace-01.eml",
        Some("CAByYQsF5qdTf_h-1AAVPW0RgR1YN+LE=+0Uv9LpQ4aA_myPtCw@mail.gmail.com"),
        &["neko-nyaan-cat-meeting@google-groups.example.com"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-messagingserver-01.eml",
        Some("CD8C6134-C312-41D5-B083-366F7FA1D752@me.example.com"),
        &["kijitora@example.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-office365-01.eml",
        Some("FFFFFFFF.EEEEEEEE@example.ed.jp"),
        &["kijitora@example.com"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-outlook-01.eml",
        Some("BLU436-SMTP6645ECA6E7FEFFE86D040BBA770@phx.gbl"),
        &["kijitora@example.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-postfix-01.eml",
        None,
        &["kijitora@example.org", "r@p351355.pool.example.ne.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-postfix-02.eml",
        None,
        &["filtered@example.co.jp", "userunknown@example.co.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/lhost-sendmail-01.eml",
        Some("E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org"),
        &["userunknown@bouncehammer.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/rfc3464-01.eml",
        Some("E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org"),
        &["userunknown@bouncehammer.jp"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/rfc3464-03.eml",
        Some("220000000022.0000.0000000000000000222@NEKO.NYAAN"),
        &["kijitora@example.com"],
    ),
    (
        "sisimai_bounces/dsn_multipart_report/rhost-google-01.eml",
        Some("201305110000000000000.r4B003v000000@mail4.example.co.jp"),
        &["shironeko@example.ne.jp"],
    ),
    ("sisimai_bounces/feedback_report/arf-01.eml", None, &[]),
    (
        "sisimai_bounces/line_endings/dos__lhost-postfix-01.eml",
        None,
        &["kijitora@example.org", "r@p351355.pool.example.ne.jp"],
    ),
    (
        "sisimai_bounces/line_endings/mac__lhost-postfix-01.eml",
        None,
        &["kijitora@example.org", "r@p351355.pool.example.ne.jp"],
    ),
];

fn expectation(rel: &str) -> Expect {
    if let Some((_, e, _)) = SPECIAL.iter().find(|(p, _, _)| *p == rel) {
        return *e;
    }
    let bounce_dirs = [
        "sisimai_bounces/dsn_multipart_report/",
        "sisimai_bounces/bounce_nonstandard/",
        "sisimai_bounces/line_endings/",
        "flanker/messages/bounce/",
        "ruby_mail_gem/multipart_report_emails/",
    ];
    if bounce_dirs.iter().any(|d| rel.starts_with(d))
        || rel == "ruby_mail_gem/mime_emails/raw_email_with_mimepart_without_content_type.eml"
        || (rel.starts_with("mimekit/messages/")
            && (rel.contains("/delivery-status") || rel.ends_with("/bounce.txt")))
    {
        return Expect::Bounce;
    }
    if rel.starts_with("sisimai_bounces/auto_replies/") {
        return Expect::AutoReply;
    }
    if rel.starts_with("sisimai_bounces/feedback_report/")
        || rel.starts_with("flanker/messages/complaints/")
        || rel == "mimekit/messages/feedback-report.txt"
    {
        return Expect::Feedback;
    }
    if rel.ends_with("/disposition-notification.eml")
        || rel.ends_with("/disposition-notification.txt")
    {
        return Expect::ReadReceipt;
    }
    Expect::Normal
}

fn matches(c: &Classification, e: Expect) -> bool {
    match (c, e) {
        (Classification::Normal, Expect::Normal) => true,
        (Classification::Bounce(_), Expect::Bounce) => true,
        (Classification::AutoReply { .. }, Expect::AutoReply) => true,
        (Classification::Report(r), Expect::Feedback) => r.kind == ReportKind::Feedback,
        (Classification::Report(r), Expect::ReadReceipt) => r.kind == ReportKind::ReadReceipt,
        (Classification::Bulk, Expect::Bulk) => true,
        _ => false,
    }
}

fn report_of(c: &Classification) -> Option<&DeliveryReport> {
    match c {
        Classification::Bounce(r) | Classification::Report(r) => Some(r),
        _ => None,
    }
}

/// Reads, normalizes line endings, parses, classifies.
fn classify_file(path: &Path) -> Option<Classification> {
    let raw = std::fs::read(path).ok()?;
    let raw = normalize_line_endings(&raw);
    let msg = MessageParser::default().parse(&raw[..])?;
    let own = vec!["support@example.com".to_owned()];
    let ctx = ClassifyContext {
        own_addresses: &own,
        loop_id: "test-loop",
    };
    Some(classify(&Signals::from_message(&msg), &ctx))
}

/// `rfc822; <A@B>` → `a@b`, as an expectation file writes a recipient field.
fn field_address(v: &str) -> String {
    let a = v.split_once(';').map_or(v, |(_, a)| a).trim();
    a.trim_start_matches('<')
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

fn load_json(path: &Path) -> Value {
    serde_json::from_str(&read_text(path))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// sisimai rows: file → (recipient index, dsn status, another_one).
fn sisimai_rows(corpus: &Path) -> BTreeMap<String, Vec<(usize, String, String)>> {
    let mut out: BTreeMap<String, Vec<(usize, String, String)>> = BTreeMap::new();
    let text = read_text(&corpus.join("sisimai_bounces/expected_sisimai.tsv"));
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Some(file), Some(idx)) = (cols.first(), cols.get(2)) else {
            continue;
        };
        let Ok(idx) = idx.parse::<usize>() else {
            continue; // "(no row ...)"
        };
        let status = cols.get(3).copied().unwrap_or_default().to_owned();
        let another = cols.get(7).copied().unwrap_or_default().to_owned();
        out.entry(format!("sisimai_bounces/{file}"))
            .or_default()
            .push((idx, status, another));
    }
    out
}

/// sisimai's own codes for reasons without a standard one (`5.0.9xx`, e.g.
/// `onhold`, `rejected`): no MTA writes them, so there is nothing to match.
fn sisimai_internal(status: &str) -> bool {
    status
        .rsplit('.')
        .next()
        .is_some_and(|d| d.len() == 3 && d.starts_with('9'))
}

struct Expectations {
    sisimai: BTreeMap<String, Vec<(usize, String, String)>>,
    flanker: Value,
    mimekit: Value,
    ruby: Value,
}

/// Every difference between what upstream asserts and what ticketd found.
fn detail_misses(rel: &str, c: &Classification, ex: &Expectations) -> Vec<String> {
    let mut miss = Vec::new();
    let report = report_of(c);

    if let Some(rows) = ex.sisimai.get(rel) {
        for (idx, status, another) in rows {
            let Some(r) = report else { break };
            if !status.is_empty() && !sisimai_internal(status) {
                let got = r.recipients.get(idx - 1).and_then(|x| x.status.as_deref());
                check(&mut miss, &format!("recipient {idx} status"), got, status);
            }
            if !another.is_empty() && r.kind == ReportKind::Feedback {
                check(
                    &mut miss,
                    "feedback type",
                    r.feedback_type.as_deref(),
                    another,
                );
            }
        }
    }

    let key = rel.strip_prefix("flanker/").unwrap_or("");
    if let (Some(e), Some(r)) = (ex.flanker.get(key), report) {
        if let Some(s) = e
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            check(&mut miss, "status", r.status.as_deref(), s);
        }
        if let Some(d) = e.get("diagnostic_code").and_then(Value::as_str) {
            check(&mut miss, "diagnostic", r.diagnostic.as_deref(), d);
        }
    }
    if let Some(false) = ex
        .flanker
        .get(key)
        .and_then(|e| e.get("is_bounce"))
        .and_then(Value::as_bool)
    {
        if matches!(c, Classification::Bounce(_)) {
            miss.push("flanker: is_bounce false".to_owned());
        }
    }

    let key = rel.strip_prefix("mimekit/").unwrap_or("");
    if let (Some(e), Some(r)) = (ex.mimekit.get(key), report) {
        let groups = e.get("status_groups").and_then(Value::as_array);
        for (i, g) in groups.into_iter().flatten().enumerate().skip(1) {
            let got = r.recipients.get(i - 1);
            let f = |name: &str| g.get(name).and_then(Value::as_str);
            if let Some(v) = f("Final-Recipient") {
                check(
                    &mut miss,
                    "Final-Recipient",
                    got.and_then(|x| x.final_recipient.as_deref()),
                    &field_address(v),
                );
            }
            if let Some(v) = f("Original-Recipient") {
                let want = field_address(v);
                check(
                    &mut miss,
                    "Original-Recipient",
                    got.and_then(|x| x.original_recipient.as_deref()),
                    &want,
                );
            }
            if let Some(v) = f("Action") {
                check(
                    &mut miss,
                    "Action",
                    got.and_then(|x| x.action.as_deref()),
                    &v.to_ascii_lowercase(),
                );
            }
            if let Some(v) = f("Status") {
                check(
                    &mut miss,
                    "Status",
                    got.and_then(|x| x.status.as_deref()),
                    v,
                );
            }
            if let Some(v) = f("Diagnostic-Code") {
                check(
                    &mut miss,
                    "Diagnostic-Code",
                    got.and_then(|x| x.diagnostic.as_deref()),
                    v,
                );
            }
        }
        if let Some(fields) = e.get("fields") {
            let f = |name: &str| fields.get(name).and_then(Value::as_str);
            if let Some(v) = f("Original-Message-Id") {
                check(
                    &mut miss,
                    "Original-Message-Id",
                    r.original_message_id.as_deref(),
                    v.trim_matches(['<', '>']),
                );
            }
            if let Some(v) = f("Disposition") {
                check(&mut miss, "Disposition", r.disposition.as_deref(), v);
            }
            if let Some(v) = f("Feedback-Type") {
                check(&mut miss, "Feedback-Type", r.feedback_type.as_deref(), v);
            }
        }
    }

    let key = rel.strip_prefix("ruby_mail_gem/").unwrap_or("");
    if let (Some(e), Some(r)) = (ex.ruby.get(key), report) {
        let first = r.recipients.first();
        if let Some(v) = e.get("final_recipient").and_then(Value::as_str) {
            check(
                &mut miss,
                "final_recipient",
                first.and_then(|x| x.final_recipient.as_deref()),
                &field_address(v),
            );
        }
        if let Some(v) = e.get("action").and_then(Value::as_str) {
            check(
                &mut miss,
                "action",
                first.and_then(|x| x.action.as_deref()),
                v,
            );
        }
        if let Some(v) = e.get("error_status").and_then(Value::as_str) {
            check(&mut miss, "error_status", r.status.as_deref(), v);
        }
        if let Some(v) = e.get("diagnostic_code").and_then(Value::as_str) {
            check(&mut miss, "diagnostic_code", r.diagnostic.as_deref(), v);
        }
        if let Some(b) = e.get("bounced").and_then(Value::as_bool) {
            if r.permanent != b {
                miss.push(format!("bounced: got permanent={}, want {b}", r.permanent));
            }
        }
    }

    if let Some(r) = report {
        match REPORTS.iter().find(|(p, _, _)| *p == rel) {
            Some((_, id, recipients)) => {
                if r.original_message_id.as_deref() != *id {
                    miss.push(format!(
                        "original Message-ID: got {:?}, want {id:?}",
                        r.original_message_id
                    ));
                }
                if r.failed_recipients != *recipients {
                    miss.push(format!(
                        "failed recipients: got {:?}, want {recipients:?}",
                        r.failed_recipients
                    ));
                }
            }
            None => miss.push(format!(
                "no REPORTS row: id {:?}, failed {:?}, permanent {}, status {:?}",
                r.original_message_id, r.failed_recipients, r.permanent, r.status
            )),
        }
    }
    miss
}

fn check(miss: &mut Vec<String>, what: &str, got: Option<&str>, want: &str) {
    if got != Some(want) {
        miss.push(format!("{what}: got {got:?}, want {want:?}"));
    }
}

fn source_of(rel: &str) -> &str {
    rel.split('/').next().unwrap_or(rel)
}

pub fn run(corpus: &Path) -> Vec<SourceResult> {
    let ex = Expectations {
        sisimai: sisimai_rows(corpus),
        flanker: load_json(&corpus.join("flanker/expected.json")),
        mimekit: load_json(&corpus.join("mimekit/expected.json")),
        ruby: load_json(&corpus.join("ruby_mail_gem/expected.json")),
    };
    let mut paths: Vec<PathBuf> = files(corpus, &[".eml", ".raw"]);
    paths.extend(files(&corpus.join("mimekit/messages"), &[".txt"]));
    paths.sort();

    let mut results: BTreeMap<String, SourceResult> = BTreeMap::new();
    for path in &paths {
        let rel = path
            .strip_prefix(corpus)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let want = expectation(&rel);
        let source = format!("classify/{}", source_of(&rel));
        let res = results
            .entry(source.clone())
            .or_insert_with(|| SourceResult::new(source, 1.0));
        let miss = match classify_file(path) {
            None => Some(format!("{rel}: did not parse (want {want:?})")),
            Some(c) if !matches(&c, want) => Some(format!(
                "{rel}: got {:?}, want {want:?}",
                c.reason().unwrap_or("normal")
            )),
            Some(c) => {
                let misses = detail_misses(&rel, &c, &ex);
                (!misses.is_empty()).then(|| format!("{rel}: {}", misses.join("; ")))
            }
        };
        res.record(miss);
    }

    // The same Postfix DSN stored with LF, CRLF and bare-CR line endings.
    let mut endings = SourceResult::new("classify/line_endings", 1.0);
    let variants = [
        "sisimai_bounces/dsn_multipart_report/lhost-postfix-01.eml",
        "sisimai_bounces/line_endings/dos__lhost-postfix-01.eml",
        "sisimai_bounces/line_endings/mac__lhost-postfix-01.eml",
    ];
    let base = classify_file(&corpus.join(variants[0]));
    for v in &variants[1..] {
        let got = classify_file(&corpus.join(v));
        endings.record(
            (got != base || base.is_none())
                .then(|| format!("{v}: {got:?} differs from the LF original {base:?}")),
        );
    }

    let mut out: Vec<SourceResult> = results.into_values().collect();
    out.push(endings);
    out
}
