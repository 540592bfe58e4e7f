//! A generated support mailbox, deterministic, in the proportions a busy
//! inbox sees: 40 % new requests (two Cc each), 35 % threaded replies with
//! quoted history, 10 % verified agent replies with commands, 5 % HTML mail with an
//! attachment, 5 % out-of-office replies, 5 % bounces; bodies in UTF-8 (QP),
//! ISO-8859-1, Windows-1252 and ISO-2022-JP subjects.

/// What a generated message is, so a benchmark can check what it timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // each benchmark reads the parts it checks
pub enum Kind {
    /// A new request: a ticket of its own.
    New,
    /// A customer's reply to the new request with this index.
    Reply(usize),
    /// A verified agent's answer (with commands) to that request.
    Agent(usize),
    /// An out-of-office reply: no ticket.
    AutoReply,
    /// A bounce: no ticket.
    Bounce,
}

/// The header a trusted receiving MTA writes on the agents' own mail
/// (`support.trusted_authserv_ids = ["mx.example.test"]` in the config):
/// their answers are verified, as in a real deployment, so the commands
/// and relays are carried out.
pub const AGENT_AUTH: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\r\n";

pub struct Mix {
    /// The size range of attachments, in bytes.
    pub attachment: (usize, usize),
    /// The share of new requests that carry an attachment, in percent.
    pub attachment_percent: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const BODY: &str = "Hello,\r\n\r\nsince this morning the export to CSV fails with a timeout after about\r\nthirty seconds. We tried two browsers and a different network.\r\nIt worked fine last week. Our order ORD-4711 depends on it.\r\n\r\nThanks for looking into it,\r\n";

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 8);
    for (i, c) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = |k: usize| u32::from(*c.get(k).unwrap_or(&0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out.push_str("\r\n");
    out
}

/// The messages alone.
#[allow(dead_code)]
pub fn generate(n: usize, mix: &Mix) -> Vec<Vec<u8>> {
    generate_with_kinds(n, mix).0
}

/// One generated message by index, and what each is; `opened` remembers
/// earlier new requests (index, sender) for replies to thread to.
pub fn generate_with_kinds(n: usize, mix: &Mix) -> (Vec<Vec<u8>>, Vec<Kind>) {
    let mut kinds = Vec::with_capacity(n);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = Vec::with_capacity(n);
    let mut opened: Vec<(usize, String)> = Vec::new();
    let date = "Mon, 30 Nov 2026 08:00:00 +0000";
    for i in 0..n {
        let roll = rng.below(100);
        let sender = format!("user{}@customer{}.test", rng.below(2000), rng.below(300));
        let msg = if roll < 40 || opened.is_empty() {
            opened.push((i, sender.clone()));
            kinds.push(Kind::New);
            let subject = match i % 4 {
                0 => format!("Site down, urgent ({i})"),
                1 => format!("=?UTF-8?Q?Export_schl=C3=A4gt_fehl?= ({i})"),
                2 => format!("=?ISO-2022-JP?B?GyRCJVUlISUkJWsbKEI=?= ({i})"),
                _ => format!("CSV export fails ({i})"),
            };
            let (ctype, body) = match i % 3 {
                0 => (
                    "text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable",
                    format!("{BODY}Gr=C3=BC=C3=9Fe, Customer {i}\r\n"),
                ),
                1 => (
                    "text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit",
                    format!("{BODY}Gr\u{fc}\u{df}e\r\n"),
                ),
                _ => (
                    "text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit",
                    format!("{BODY}-- \r\nCustomer {i}\r\n"),
                ),
            };
            // Latin-1 / 1252 bodies as their real bytes.
            let body_bytes: Vec<u8> = if i % 3 == 0 {
                body.into_bytes()
            } else {
                body.chars().map(|c| c as u32 as u8).collect()
            };
            let head = format!(
                "From: Customer {i} <{sender}>\r\nTo: support@example.test\r\nCc: colleague{i}@customer.test, boss{}@customer.test\r\nSubject: {subject}\r\nMessage-ID: <m{i}@customer.test>\r\nDate: {date}\r\nMIME-Version: 1.0\r\n",
                i % 7
            );
            if rng.below(100) < mix.attachment_percent {
                let (lo, hi) = mix.attachment;
                let size = lo + rng.below((hi - lo).max(1) as u64) as usize;
                let data: Vec<u8> = (0..size)
                    .map(|k| (k as u64 * 2_654_435_761 + i as u64) as u8)
                    .collect();
                let mut m = format!("{head}Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: {ctype}\r\n\r\n").into_bytes();
                m.extend_from_slice(&body_bytes);
                m.extend_from_slice(format!("\r\n--b{i}\r\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"report-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--b{i}--\r\n", base64(&data)).as_bytes());
                out.push(m);
                continue;
            }
            let mut m = format!("{head}Content-Type: {ctype}\r\n\r\n").into_bytes();
            m.extend_from_slice(&body_bytes);
            out.push(m);
            continue;
        } else if roll < 75 {
            let (orig, who) = &opened[rng.below(opened.len() as u64) as usize];
            kinds.push(Kind::Reply(*orig));
            format!(
                "From: {who}\r\nTo: support@example.test\r\nSubject: Re: CSV export fails ({orig})\r\nMessage-ID: <m{i}@customer.test>\r\nIn-Reply-To: <m{orig}@customer.test>\r\nReferences: <m{orig}@customer.test>\r\nDate: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nStill failing today, see the log below.\r\n\r\nOn Mon, 30 Nov 2026, Support wrote:\r\n> Could you try again?\r\n> \r\n> {BODY}\r\n"
            )
        } else if roll < 85 {
            let (orig, _) = &opened[rng.below(opened.len() as u64) as usize];
            kinds.push(Kind::Agent(*orig));
            format!(
                "{AGENT_AUTH}From: Agent <agent1@example.test>\r\nTo: support@example.test\r\nSubject: Re: CSV export\r\nMessage-ID: <m{i}@example.test>\r\nIn-Reply-To: <m{orig}@customer.test>\r\nDate: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n#status pending\r\n#category export\r\nWe deployed a fix, please try again.\r\n"
            )
        } else if roll < 90 {
            kinds.push(Kind::New);
            format!(
                "From: {sender}\r\nTo: support@example.test\r\nSubject: Rechnung\r\nMessage-ID: <m{i}@customer.test>\r\nDate: {date}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Guten Tag,</p><p>die Rechnung <b>fehlt</b>.</p><div class=\"gmail_quote\">alt</div></body></html>\r\n--b{i}\r\nContent-Type: application/pdf; name=\"invoice-{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K{i:08}\r\n--b{i}--\r\n"
            )
        } else if roll < 95 {
            kinds.push(Kind::AutoReply);
            format!(
                "From: {sender}\r\nTo: support@example.test\r\nSubject: Automatic reply: CSV export fails\r\nMessage-ID: <m{i}@customer.test>\r\nAuto-Submitted: auto-replied\r\nDate: {date}\r\n\r\nI am out of the office.\r\n"
            )
        } else {
            kinds.push(Kind::Bounce);
            format!(
                "From: MAILER-DAEMON@mx.customer.test\r\nTo: support@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <m{i}@mx.customer.test>\r\nDate: {date}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"r{i}\"\r\n\r\n--r{i}\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--r{i}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.test\r\n\r\nFinal-Recipient: rfc822; {sender}\r\nAction: failed\r\nStatus: 5.1.1\r\n--r{i}--\r\n"
            )
        };
        out.push(msg.into_bytes());
    }
    (out, kinds)
}
