//! Quote and signature stripping: the new words of a reply, without the
//! quoted history, the attribution lines mail clients write above it, and the
//! sender's signature. Pure string work, linear in the size of the body.
//!
//! How a body is read, in order:
//! 1. line endings are normalised and everything from ticketd's own
//!    [`REPLY_MARKER`] on is dropped;
//! 2. attribution lines that a client wrapped over several lines ("On …,
//!    Name <\naddr> wrote:") are joined into one logical line, and an
//!    attribution sharing a line with the reply ("ok On … wrote:") is split off;
//! 3. the quoted history is cut ([`strip_quotes`] stops here): an
//!    "-----Original Message-----" separator, an Outlook `From:/Sent:/To:`
//!    block (many languages), or an attribution line; `>` blocks at the end;
//! 4. the signature is cut ([`visible_text`]): `-- `, long separator lines,
//!    "Sent from my …" lines in several languages, and a last paragraph that
//!    starts with the sender's own name.
//!
//! The reply corpora this is checked against disagree on some points; the
//! choices made here, for what a support agent needs to read:
//! - a forwarded message ("---------- Forwarded message ----------") is kept
//!   whole: it is what the customer wants us to see (talon keeps it,
//!   Discourse's trimmer drops it);
//! - text below a quote: in a bottom-posted reply (nothing above the
//!   attribution) it is the reply; between quotes (an inline reply) the quotes
//!   stay as the questions being answered and only the attribution goes
//!   (talon and Discourse; Crisp's first fragment cuts there); below the last
//!   quote of a top-posted reply it is taken for history (Discourse, Crisp;
//!   github's parser keeps it), unless it is a short sign-off ("Regards,
//!   Roman", as talon keeps it);
//! - text below an attribution line that is not `>`-quoted is history too
//!   (most clients that do not quote put the old message there);
//! - "Sent from my iPhone" is a signature in [`visible_text`] but kept by
//!   [`strip_quotes`], which only removes quotes (as talon does);
//! - a "-Name" sign-off is dropped only when a signature or footer separator
//!   follows it (github's parser drops it, Crisp's keeps it);
//! - separator lines must be at least five characters long (underscores:
//!   two), so Markdown rules ("---", "***") inside a message are not taken for
//!   a signature; a long rule right under a line of text still is one
//!   (github's parser; Crisp's tests call a table rule "not a signature").

use regex::Regex;
use std::sync::LazyLock;

/// The line ticketd puts at the top of every notification: only the text
/// above it is the reply.
pub const REPLY_MARKER: &str = "##- Please type your reply above this line -##";

/// Lines longer than this are never attribution lines, header fields or
/// signatures; skipping them keeps the regexes off megabyte-long lines.
const MAX_HEADER_LEN: usize = 600;

/// How many lines before a line ending like an attribution ("… wrote:") may
/// belong to it (Gmail and Outlook wrap long attributions over up to five).
const MAX_JOIN: usize = 4;

/// An Outlook header block is looked for over at most this many lines.
const MAX_BLOCK_LINES: usize = 24;

/// The new words of a reply: quoted history, the "On … wrote:" /
/// "-----Original Message-----" / "From: … Sent: …" headers (many clients and
/// languages), trailing signatures ("-- ", "Sent from my iPhone", …) removed;
/// text above [`REPLY_MARKER`] only.
///
/// `sender` is the From address, bare or as `Name <address>`: a last
/// paragraph that starts with the sender's name is taken for a signature.
pub fn visible_text(body: &str, sender: Option<&str>) -> String {
    let lines = analyse(body, sender, true);
    render_kept(&lines)
}

/// The reply without its quoted history, signatures left in place. Lines are
/// given back as written (trailing spaces kept); the whole is trimmed.
pub fn strip_quotes(body: &str) -> String {
    let lines = analyse(body, None, false);
    let kept: Vec<&str> = lines
        .iter()
        .filter(|l| l.keep)
        .map(|l| l.orig.as_str())
        .collect();
    kept.join("\n").trim().to_owned()
}

/// What [`visible_text`] dropped, trimmed: the quoted history, headers and
/// signature, one logical line per line (a wrapped attribution is shown
/// joined, and `Name>` or `|` quote prefixes are shown as `>`). For showing
/// "quoted text hidden" and for checking the stripping against other tools.
pub fn removed_text(body: &str, sender: Option<&str>) -> String {
    let lines = analyse(body, sender, true);
    let removed: Vec<String> = lines
        .iter()
        .filter(|l| !l.keep)
        .map(|l| canonical_quote_prefix(&l.text))
        .collect();
    removed.join("\n").trim().to_owned()
}

/// CRLF and lone CR become LF.
pub fn normalize_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// One logical line of the body.
#[derive(Debug, Clone)]
struct Line {
    /// What the rules look at (a wrapped attribution joined with spaces).
    text: String,
    /// The line(s) as written, given back when the line is kept.
    orig: String,
    keep: bool,
    /// Already the result of a join: not joined again.
    joined: bool,
}

impl Line {
    fn new(s: &str) -> Line {
        Line {
            text: s.to_owned(),
            orig: s.to_owned(),
            keep: true,
            joined: false,
        }
    }
}

fn analyse(body: &str, sender: Option<&str>, signatures: bool) -> Vec<Line> {
    let text = normalize_newlines(body);
    let (above, below) = split_at_marker(&text);
    let mut lines = split_mid_line_attributions(join_wrapped_attributions(above));
    strip_stage(&mut lines);
    if signatures {
        let sender = sender.and_then(SenderName::parse);
        signature_stage(&mut lines, sender.as_ref());
    }
    for l in below {
        let mut line = Line::new(l);
        line.keep = false;
        lines.push(line);
    }
    lines
}

/// The lines above ticketd's reply marker, and the ones from it on. Text
/// before the marker on its own line is kept, unless it is only quote marks.
fn split_at_marker(text: &str) -> (Vec<&str>, Vec<&str>) {
    let Some(at) = text.find(REPLY_MARKER) else {
        return (text.split('\n').collect(), Vec::new());
    };
    let line_start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    let mut above: Vec<&str> = if line_start == 0 {
        Vec::new()
    } else {
        text[..line_start - 1].split('\n').collect()
    };
    let prefix = &text[line_start..at];
    if !prefix
        .trim_matches(|c: char| c == '>' || c.is_whitespace())
        .is_empty()
    {
        above.push(prefix);
    }
    (above, text[line_start..].split('\n').collect())
}

// ---------------------------------------------------------------------------
// Attribution lines ("On … wrote:" and its relatives)

/// Words that close an attribution, in the languages the corpora cover
/// (quoted-printable leftovers of "é" and "ó" included, as clients that break
/// lines inside an encoded word leave them).
const WROTE: &str = r"(?:wrote|writes|a\s+(?:é|=C3=A9|e)crit|escribi(?:ó|=C3=B3|o)|schrieb(?:en)?|geschrieben|geschreven|ha\s+scritto|escreveu|schreef|skrev|napisa(?:ł|l)(?:\s*\(a\))?|kirjoitti|написал(?:\(а\)|а)?|пише|đã\s+viết|写道|書きました|napsal|yazdı|írta)";

/// Attribution ends with a WROTE word (possibly followed by "-----").
static WROTE_AT_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(?i)\b{WROTE}[\s\-*]*$")).expect("static regex"));

static HAS_WROTE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(?i)\b{WROTE}\b")).expect("static regex"));

/// "On <date>, Name wrote:" and its English relatives ("At …", "In message …").
static ON_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:on|at|in\s+message)\s.*\d.*\b(?:wrote|writes|sent|said)[\s:\-*]*$")
        .expect("static regex")
});

/// Words that open an attribution: English, French, Spanish, German,
/// Italian, Portuguese, Dutch, Danish/Norwegian/Swedish, Vietnamese, Polish.
/// "At" only capitalised: a wrapped "at 10:18," is the middle of one.
static STARTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?i:on|in\s+message|le|el|am|il|il\s+giorno|in\s+data|em|op|den|på|vào|dnia|dňa|w\s+dniu|在)|At)\s")
        .expect("static regex")
});

/// A line that starts with a date or time: "15. marts 2017", "2014-10-17",
/// "pe 20. lokakuuta", "Wednesday, 17 November", "11:00 AM".
static DATE_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\p{L}{1,12}\.?,?\s+)?\d{1,4}(?:[./\-]\d{1,2}|\.?\s+\p{L}{3,}|[:.]\d{2}\b)")
        .expect("static regex")
});

/// "Name <addr> wrote on <date>:" / "… schrieb am …:" (Google Inbox).
static WROTE_ON_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^.{1,200}\b(?:wrote|schrieb)\s+(?:on|am)\s.*\d.*[:：]$").expect("static regex")
});

/// "2016-03-03 17:21 GMT+01:00 Name" and "2013/7/20 Name <addr>" (old
/// Gmail): a leading ISO date with a GMT offset or an address, no colon.
static GMAIL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\d{4}[\-/]\d{1,2}[\-/]\d{1,2}\s+(?:\d{1,2}:\d{2}\s+GMT[+\-]\d{1,2}(?::?\d{2})?\s+\S.*|.*<[^<>\s]+@[^<>\s]+>[\s:]*)$")
        .expect("static regex")
});

/// "---- John Smith wrote ----" (Android).
static DASHED_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^-{2,}\s*[^\-\s].{0,100}\bwrote\s*-{2,}$").expect("static regex")
});

/// "name via Discourse Meta wrote:" (no address, no date).
static VIA_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^.{1,100}\svia\s.{1,100}\s(?:wrote|schrieb)[\s:]*$").expect("static regex")
});

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+'\-]+@[\w\-]+(?:\.[\w\-]+)+").expect("static regex"));

/// A date or a time somewhere in the line.
static HAS_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{1,2}[:.h]\d{2}\b|\b(?:19|20)\d{2}\b|\d{1,2}[./\-]\d{1,2}[./\-]\d{2,4}")
        .expect("static regex")
});

/// An attribution that ends with an address and a colon:
/// "30.09.2017, 18.30, "John" <john@example.com>:".
static ADDR_COLON_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[\w.+'\-]+@[\w\-]+(?:\.[\w\-]+)+[>)\]"]*\s*[:：]$"#).expect("static regex")
});

/// "reply On <date>, Name wrote:" with the reply in front on the same line.
static MID_LINE_ON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(.*?\S)[\s\-]+(on\s.*\d.*\bwrote:)\s*$").expect("static regex")
});

/// Removes quote marks, dashes, bold stars and spaces around a line.
fn bare(s: &str) -> &str {
    s.trim_start_matches(|c: char| c == '>' || c == '*' || c == '-' || c.is_whitespace())
        .trim_end_matches(|c: char| c == '*' || c == '-' || c.is_whitespace())
}

/// Strips only the quote marks (and spaces) in front of a line.
fn dequote(s: &str) -> &str {
    s.trim_start_matches(|c: char| c == '>' || c.is_whitespace())
}

fn ends_with_colon(s: &str) -> bool {
    s.ends_with(':') || s.ends_with('：')
}

/// Is this (joined, unquoted) line an attribution: the line a mail client
/// writes above the message it quotes?
fn is_attribution(line: &str) -> bool {
    if line.len() > MAX_HEADER_LEN {
        return false;
    }
    let s = bare(line);
    if s.is_empty() {
        return false;
    }
    if DASHED_WROTE.is_match(line.trim()) {
        return true;
    }
    if ON_WROTE.is_match(s) || GMAIL_DATE.is_match(s) || WROTE_ON_DATE.is_match(s) {
        return true;
    }
    let colon = ends_with_colon(s);
    let wrote_end = WROTE_AT_END.is_match(s);
    let has_wrote = HAS_WROTE.is_match(s);
    if VIA_WROTE.is_match(s) {
        return true;
    }
    let has_addr = EMAIL.is_match(s);
    let dated = HAS_DATE.is_match(s);
    // "Le 4 janv. 2016, Neil a écrit :", "Am 4. Juli schrieb Rick <r@x>:".
    if STARTER.is_match(s)
        && s.bytes().any(|b| b.is_ascii_digit())
        && has_wrote
        && (wrote_end || colon)
    {
        return true;
    }
    // "Some One <one@x> wrote:", "15. marts 2017 kl. 11.00 skrev John <j@x>:".
    if has_wrote && (wrote_end || colon) && (has_addr || (dated && DATE_START.is_match(s))) {
        return true;
    }
    // "26.06.2014, 14:41, "Alexander" <abc@example.com>:" and the like.
    colon && dated && DATE_START.is_match(s) && ADDR_COLON_END.is_match(s)
}

/// Could this line open an attribution that goes on over the next lines?
fn is_strong_start(line: &str) -> bool {
    let s = bare(line);
    STARTER.is_match(s) || DATE_START.is_match(s) || {
        // "Name <addr> schrieb am Fr., 28." (the date wraps).
        EMAIL.is_match(s) && WROTE_ON_DATE_START.is_match(s)
    }
}

static WROTE_ON_DATE_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:wrote|schrieb)\s+(?:on|am)\b").expect("static regex"));

/// Could this line be the last line of an attribution?
fn ends_like_attribution(line: &str) -> bool {
    if line.len() > MAX_HEADER_LEN {
        return false;
    }
    let s = bare(line);
    ends_with_colon(s) || WROTE_AT_END.is_match(s) || s.ends_with('>')
}

/// Joins attributions that a client wrapped over several lines into one
/// logical line, so "On <date>, Name <\naddr> wrote:" is recognised and
/// dropped as a whole. The smallest span that starts like an attribution and
/// reads as one when joined wins.
fn join_wrapped_attributions(raw: Vec<&str>) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::with_capacity(raw.len());
    for l in raw {
        if !ends_like_attribution(dequote(l)) {
            out.push(Line::new(l));
            continue;
        }
        let single = is_attribution(dequote(l));
        if single && is_strong_start(dequote(l)) {
            out.push(Line::new(l));
            continue;
        }
        let mut chosen = None;
        for k in 1..=MAX_JOIN.min(out.len()) {
            let span = &out[out.len() - k..];
            let first = &span[0];
            if first.joined
                || first.text.trim().is_empty()
                || first.text.len() > MAX_HEADER_LEN
                || span.iter().any(|x| x.joined)
                || span.iter().filter(|x| x.text.trim().is_empty()).count() > 1
                || !is_strong_start(dequote(&first.text))
                || span.iter().any(|x| {
                    let t = dequote(&x.text);
                    ends_like_attribution(t) && is_attribution(t)
                })
            {
                continue;
            }
            let joined = join_words(span.iter().map(|x| x.text.as_str()).chain([l]));
            if is_attribution(dequote(&joined)) {
                chosen = Some((k, joined));
                break;
            }
        }
        match chosen {
            Some((k, joined)) => {
                let start = out.len() - k;
                let orig: Vec<&str> = out[start..]
                    .iter()
                    .map(|x| x.orig.as_str())
                    .chain([l])
                    .collect();
                let orig = orig.join("\n");
                out.truncate(start);
                out.push(Line {
                    text: joined,
                    orig,
                    keep: true,
                    joined: true,
                });
            }
            None => out.push(Line::new(l)),
        }
    }
    out
}

/// Joins lines with one space where the line breaks (and blank lines) were.
fn join_words<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::new();
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(p);
    }
    s
}

/// "reply On <date>, Name wrote:" followed by a quote: the reply and the
/// attribution go to lines of their own.
fn split_mid_line_attributions(lines: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.text.len() <= MAX_HEADER_LEN && !is_quote(&line.text) {
            if let Some(c) = MID_LINE_ON.captures(&line.text) {
                let (Some(pre), Some(attr)) = (c.get(1), c.get(2)) else {
                    out.push(line.clone());
                    continue;
                };
                let pre = pre.as_str().trim_end_matches(['-', ' ']);
                let next = lines[i + 1..].iter().find(|l| !l.text.trim().is_empty());
                if !pre.trim().is_empty()
                    && ON_WROTE.is_match(attr.as_str())
                    && next.is_some_and(|l| is_quote(&l.text))
                {
                    out.push(Line::new(pre));
                    let mut a = Line::new(attr.as_str());
                    a.joined = true;
                    out.push(a);
                    continue;
                }
            }
        }
        out.push(line.clone());
    }
    out
}

// ---------------------------------------------------------------------------
// Separators and header blocks

/// "-----Original Message-----" and its translations.
static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[\s*_]*-{2,}\s*(?:original\s+message|original\s+e-?mail|reply\s+message|ursprüngliche\s+nachricht|original-nachricht|antwort\s+nachricht|oprindelig\s+meddelelse|oprindelig\s+besked|opprinnelig\s+melding|originalmeddelande|ursprungligt\s+meddelande|message\s+d'origine|message\s+original|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|origineel\s+bericht|wiadomość\s+oryginalna|původní\s+zpráva|исходное\s+сообщение|mensagem\s+original|alkuperäinen\s+viesti|原始邮件|原始郵件|元のメッセージ)\s*-*[\s*_]*$",
    )
    .expect("static regex")
});

/// "---------- Forwarded message ----------", "Begin forwarded message:".
static FORWARDED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[\s*]*(?:-{2,}\s*(?:forwarded\s+message|forwarded\s+e-?mail|message\s+transféré|weitergeleitete\s+nachricht|mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|videresendt\s+meddelelse|vidarebefordrat\s+meddelande|wiadomość\s+przekazana|пересылаемое\s+сообщение|mensagem\s+encaminhada|转发邮件)\s*-*|begin\s+forwarded\s+message\s*:|début\s+du\s+message\s+(?:réexpédié|transféré)\s*:|anfang\s+der\s+weitergeleiteten\s+nachricht\s*:|inicio\s+del\s+mensaje\s+reenviado\s*:)[\s*]*$",
    )
    .expect("static regex")
});

/// "Key: value", with Outlook's bold stars and French spacing ("Objet :").
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*[*_]{0,2}([\p{L}][\p{L}\p{M} '.\-]{0,28}?)[*_]{0,2}\s*[:：]")
        .expect("static regex")
});

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    From,
    Date,
    To,
    Cc,
    Subject,
    Other,
}

/// The header-field names Outlook and webmail clients write above a quoted
/// message, in the languages the corpora cover.
fn field_kind(key: &str) -> Field {
    let k = key.trim().trim_end_matches('.').to_lowercase();
    match k.as_str() {
        "from" | "von" | "van" | "de" | "da" | "fra" | "från" | "od" | "от" | "lähettäjä"
        | "kimden" | "feladó" | "发件人" | "寄件者" | "差出人" | "từ" | "afzender"
        | "expéditeur" | "remitente" | "mittente" | "absender" => Field::From,
        "sent"
        | "date"
        | "datum"
        | "data"
        | "envoyé"
        | "envoyé le"
        | "enviado"
        | "enviada"
        | "enviado el"
        | "enviada em"
        | "enviado em"
        | "gesendet"
        | "verzonden"
        | "inviato"
        | "sendt"
        | "skickat"
        | "wysłano"
        | "wysłane"
        | "отправлено"
        | "дата"
        | "lähetetty"
        | "发送时间"
        | "日期"
        | "送信日時"
        | "ngày gửi"
        | "odesláno"
        | "gönderildi"
        | "dato"
        | "fecha"
        | "sent at" => Field::Date,
        "to" | "an" | "aan" | "a" | "à" | "para" | "til" | "till" | "do" | "кому"
        | "vastaanottaja" | "收件人" | "宛先" | "tới" | "kime" | "destinataire"
        | "destinatario" | "empfänger" | "komu" | "címzett" => Field::To,
        "cc" | "kopie" | "copie" | "copie à" | "kopia" | "копия" | "cc." | "抄送" => {
            Field::Cc
        }
        "subject" | "betreff" | "onderwerp" | "oggetto" | "objet" | "sujet" | "asunto"
        | "assunto" | "emne" | "ämne" | "temat" | "тема" | "aihe" | "主题" | "主旨" | "件名"
        | "chủ đề" | "konu" | "předmět" | "tárgy" => Field::Subject,
        _ => Field::Other,
    }
}

fn field_of(line: &str) -> Option<Field> {
    if line.len() > MAX_HEADER_LEN {
        return None;
    }
    FIELD
        .captures(line)
        .and_then(|c| c.get(1))
        .map(|k| field_kind(k.as_str()))
}

/// Does an Outlook-style header block ("From: … Sent: … To: … Subject: …")
/// start at line `i`? Lines that are not fields may sit inside the block when
/// a field follows within two lines (a wrapped address or subject).
fn header_block_at(lines: &[Line], i: usize) -> bool {
    let Some(first) = field_of(&lines[i].text) else {
        return false;
    };
    let mut seen = vec![first];
    let mut j = i + 1;
    let end = lines.len().min(i + MAX_BLOCK_LINES);
    while j < end && lines[j].keep {
        let t = &lines[j].text;
        if t.trim().is_empty() {
            break;
        }
        if let Some(f) = field_of(t) {
            seen.push(f);
            j += 1;
            continue;
        }
        // A continuation line counts only if a field follows it directly.
        let field_follows = (j + 1..end.min(j + 3))
            .take_while(|&k| !lines[k].text.trim().is_empty())
            .any(|k| field_of(&lines[k].text).is_some());
        if !field_follows {
            break;
        }
        j += 1;
    }
    let has = |f: Field| seen.contains(&f);
    let kinds = [
        Field::From,
        Field::Date,
        Field::To,
        Field::Cc,
        Field::Subject,
    ]
    .iter()
    .filter(|&&f| has(f))
    .count();
    kinds >= 2 && (has(Field::From) || has(Field::To))
}

/// A line of repeated punctuation that separates a footer, a signature or a
/// quoted message: "_____", "-----", "=====", "*****", and Gmail's lone "ᐧ".
fn is_separator(line: &str, min: usize) -> bool {
    let t = line.trim();
    if t == "ᐧ" {
        return true;
    }
    let mut chars = t.chars();
    let Some(c) = chars.next() else { return false };
    if !"-_=*~+#—–".contains(c) {
        return false;
    }
    t.chars().all(|x| x == c) && t.chars().count() >= min
}

// ---------------------------------------------------------------------------
// Quotes

/// A quoted line: "> …", or a "Name> …" prefix as some Usenet-era clients
/// write it.
fn is_quote(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with('>') {
        return true;
    }
    let letters = line.bytes().take_while(u8::is_ascii_alphabetic).count();
    (1..=12).contains(&letters) && line.as_bytes().get(letters) == Some(&b'>')
}

/// `Name>` and `|` quote prefixes shown as `>`.
fn canonical_quote_prefix(line: &str) -> String {
    let letters = line.bytes().take_while(u8::is_ascii_alphabetic).count();
    if (1..=12).contains(&letters) && line.as_bytes().get(letters) == Some(&b'>') {
        return line[letters..].to_owned();
    }
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix('|') {
        return format!(">{rest}");
    }
    line.to_owned()
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// The index of the first kept line from `from` on that is neither blank
/// nor quoted (the end of a quote block), or `lines.len()`.
///
/// Up to three unquoted lines squeezed between two quoted lines, with no
/// blank line around them, belong to the quote: a long quoted line the client
/// wrapped without repeating the `>` ("> see (http://x/a\nb) >").
fn quote_block_end(lines: &[Line], from: usize) -> usize {
    let n = lines.len();
    let text = |k: usize| lines[k].keep && !is_blank(&lines[k].text) && !is_quote(&lines[k].text);
    let quoted = |k: usize| lines[k].keep && is_quote(&lines[k].text);
    let mut k = from;
    while k < n {
        if !text(k) {
            k += 1;
            continue;
        }
        if k > from && quoted(k - 1) {
            let run = (k..n.min(k + 3)).take_while(|&x| text(x)).count();
            if k + run < n && quoted(k + run) {
                k += run;
                continue;
            }
        }
        return k;
    }
    n
}

fn next_non_blank(lines: &[Line], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&k| lines[k].keep && !is_blank(&lines[k].text))
}

/// Is there reply text (not blank, not quoted) kept above line `i`?
fn has_text_before(lines: &[Line], i: usize) -> bool {
    lines[..i]
        .iter()
        .any(|l| l.keep && !is_blank(&l.text) && !is_quote(&l.text))
}

/// Does the quote block `i..end` open with an attribution or a separator
/// ("> On … wrote:"): then it is quoted history, not a quote being answered.
fn quote_block_is_history(lines: &[Line], i: usize, end: usize) -> bool {
    lines[i..end]
        .iter()
        .find(|l| !is_blank(dequote(&l.text)))
        .is_some_and(|l| {
            let t = dequote(&l.text);
            is_attribution(t) || ORIGINAL_MESSAGE.is_match(t) || FORWARDED.is_match(t)
        })
}

static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:regards|best|kind\s+regards|best\s+regards|warm\s+regards|thanks|thank\s+you|many\s+thanks|cheers|sincerely|br|mit\s+freundlichen|viele\s+grüße|grüße|gruß|lg|cordialement|bien\s+à\s+vous|merci|saludos|atentamente|un\s+saludo|cordiali\s+saluti|saluti|grazie|groeten|met\s+vriendelijke|hälsningar|mvh|pozdrawiam|с\s+уважением|спасибо)\b")
        .expect("static regex")
});

/// Is everything from `from` on a short sign-off ("Regards, Roman")?
fn is_closing(lines: &[Line], from: usize) -> bool {
    let rest: Vec<&str> = lines[from..]
        .iter()
        .filter(|l| l.keep && !is_blank(&l.text))
        .map(|l| l.text.trim())
        .take(4)
        .collect();
    !rest.is_empty()
        && rest.len() <= 3
        && rest.iter().all(|l| l.chars().count() <= 60)
        && CLOSING.is_match(rest[0])
}

// ---------------------------------------------------------------------------
// The two stages

/// Drops line `i` and everything after it, and the separator and blank lines
/// just above it.
fn cut(lines: &mut [Line], i: usize) {
    for l in &mut lines[i..] {
        l.keep = false;
    }
    let mut k = i;
    while k > 0 {
        k -= 1;
        if !lines[k].keep {
            continue;
        }
        let t = &lines[k].text;
        if is_blank(t) || is_separator(t, 2) {
            lines[k].keep = false;
        } else {
            break;
        }
    }
}

fn drop_range(lines: &mut [Line], from: usize, to: usize) {
    for l in &mut lines[from..to] {
        l.keep = false;
    }
}

/// Removes the quoted history (see the module documentation). One pass:
/// whether reply text was seen is carried along, not searched for again.
fn strip_stage(lines: &mut [Line]) {
    let n = lines.len();
    let is_text = |l: &Line| l.keep && !is_blank(&l.text) && !is_quote(&l.text);
    // Quote lines further down tell an inline reply from a reply above a
    // quote; nothing below the current line changes before it is reached.
    let last_quote = lines.iter().rposition(|l| is_quote(&l.text));
    let mut text_seen = false;
    let mut fence = false;
    let mut i = 0;
    while i < n {
        if !lines[i].keep {
            i += 1;
            continue;
        }
        let t = lines[i].text.as_str();
        if is_fence(t) {
            fence = !fence;
        }
        if fence || is_blank(t) || t.len() > MAX_HEADER_LEN && !is_quote(t) {
            text_seen |= is_text(&lines[i]);
            i += 1;
            continue;
        }
        if FORWARDED.is_match(t) {
            // A forwarded message is what the customer wants us to read.
            return;
        }
        if ORIGINAL_MESSAGE.is_match(t) {
            cut(lines, i);
            return;
        }
        if is_quote(t) {
            let end = quote_block_end(lines, i);
            let history = quote_block_is_history(lines, i, end);
            if end == n {
                // A quote closing the message is history, unless the whole
                // message is an unattributed quote (then it is all we have).
                if text_seen || history {
                    cut(lines, i);
                }
                return;
            }
            if !text_seen && history {
                drop_range(lines, i, end);
            } else {
                text_seen |= lines[i..end].iter().any(is_text);
            }
            i = end;
            continue;
        }
        if header_block_at(lines, i) {
            cut(lines, i);
            return;
        }
        if is_attribution(t) {
            match next_non_blank(lines, i + 1) {
                Some(k) if is_quote(&lines[k].text) => {
                    let end = quote_block_end(lines, k);
                    if end == n {
                        cut(lines, i);
                        return;
                    }
                    if last_quote.is_some_and(|q| q > end) {
                        // Answers between quotes: an inline reply. The quotes
                        // are the questions being answered; only the
                        // attribution goes (and the quote at the end, later).
                        lines[i].keep = false;
                        i = k;
                        continue;
                    }
                    if !text_seen || is_closing(lines, end) {
                        // A bottom-posted reply, or a sign-off under the quote.
                        drop_range(lines, i, end);
                        i = end;
                        continue;
                    }
                    cut(lines, i);
                    return;
                }
                _ => {
                    cut(lines, i);
                    return;
                }
            }
        }
        text_seen = true;
        i += 1;
    }
}

/// Mobile and webmail signatures that are a phrase of their own: "Get
/// Outlook for iOS", "Von meinem iPhone gesendet", "发自我的iPhone".
static APP_SIGNATURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^[\s(<*]*(?:
            (?:get|download|obtenir|télécharger)\s+\[?outlook\s+(?:for|pour)\b.*
          | outlook\s+für\s+(?:ios|android)\s+beziehen.*
          | von\s+meinem\s+.{1,40}\s+gesendet\.?
          | diese\s+nachricht\s+wurde\s+von\s+meinem\s+.{1,60}\s+gesendet\.?
          | 发自我的.{0,30}
          | iphoneから送信
          | sent\s+from\s+(?:a\s+)?(?:phone|mobile(?:\s+device)?)
          | <<\s*sent\s+by\s+.{1,30}>>
        )[\s)>*]*$",
    )
    .expect("static regex")
});

/// "Sent from", "Envoyé depuis", "Gesendet von", "Sendt fra", … at the start
/// of a line.
static SENT_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^[\s(<*]*(?:sent|envoyé|enviad[oa]|inviato|verzonden|gesendet|sendt|skickat|wysłane|отправлено|lähetetty)\s+(?:from|with|via|using|de|depuis|avec|à\s+partir\s+de|desde|do|da|dal|vanaf|met|van|von|mit|vom|fra|från|z|с|из|laitteesta)\s",
    )
    .expect("static regex")
});

/// What makes a "Sent from …" line a signature rather than a sentence: a
/// possessive ("my iPhone", "mon iPhone"), a device or mail app, or a link.
static SENT_DEVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:my|mon|ma|mi|meu|mio|mijn|min|mitt|mojego|meinem|моего|iphone|ipad|ipod|android|blackberry|samsung|galaxy|outlook|yahoo|gmail|mobile|mobil\w*|smartphone|handy|tablet|windows|huawei|xiaomi|nokia|htc|motorola|pixel|k-9|aol|typeapp|airmail|mailbox|spark|bluemail|protonmail|proton\s+mail)\b|<https?://|\[mail\]",
    )
    .expect("static regex")
});

/// "Sent from my iPhone" and its relatives, in several languages. A
/// sentence that only starts like one ("Sent from my desk, which…", "Sent
/// via FedEx yesterday") is not one: no punctuation inside, at most eight
/// words, and a device, an app, a possessive or a link.
fn is_mobile_signature(line: &str) -> bool {
    let t = line.trim();
    if t.chars().count() > 100 {
        return false;
    }
    if APP_SIGNATURE.is_match(t) {
        return true;
    }
    if !SENT_FROM.is_match(t) || !SENT_DEVICE.is_match(t) {
        return false;
    }
    let words = LINK.replace_all(t, " ");
    !words.contains([',', ';', '!', '?']) && words.split_whitespace().count() <= 8
}

/// Links as mail clients write them in plain text: `<http://…>`, `(http://…)`.
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^<>]*>|\(https?://[^()]*\)").expect("static regex"));

/// "-Name" right above a signature separator: github's parser reads it as
/// part of the signature.
static DASH_SIGNOFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*-{1,2}\s?\p{L}[\p{L}\p{M}.']*(?:\s+\p{L}[\p{L}\p{M}.']*){0,3}\s*$")
        .expect("static regex")
});

/// The first and last name of the sender, to recognise a signature that
/// starts with them.
#[derive(Debug)]
struct SenderName {
    first: String,
    last: String,
}

impl SenderName {
    /// From "Jim Smith <jim@x>", "Smith, Jim <jim@x>" or "jim.smith@x".
    fn parse(sender: &str) -> Option<SenderName> {
        let name = match sender.find('<') {
            Some(p) => sender[..p].trim().trim_matches('"').trim().to_owned(),
            None => String::new(),
        };
        let words: Vec<String> = if name.is_empty() {
            let addr = sender.trim().trim_matches(['<', '>']);
            let local = addr.split('@').next().unwrap_or("");
            let parts: Vec<&str> = local.split(['.', '_', '-']).collect();
            if parts.len() != 2
                || parts
                    .iter()
                    .any(|p| p.len() < 2 || !p.chars().all(char::is_alphabetic))
            {
                return None;
            }
            parts.iter().map(|p| p.to_lowercase()).collect()
        } else if let Some((last, first)) = name.split_once(',') {
            let first = first.split_whitespace().next()?;
            let last = last.split_whitespace().last()?;
            vec![first.to_lowercase(), last.to_lowercase()]
        } else {
            name.split_whitespace().map(str::to_lowercase).collect()
        };
        if words.len() < 2 {
            return None;
        }
        let first = words.first()?.clone();
        let last = words.last()?.clone();
        Some(SenderName { first, last })
    }

    /// Does the line start with "First [M.] Last"?
    fn starts(&self, line: &str) -> bool {
        let clean = |w: &str| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        };
        let words: Vec<String> = line.split_whitespace().take(5).map(clean).collect();
        if words.first() != Some(&self.first) {
            return false;
        }
        for w in words.iter().skip(1).take(3) {
            if *w == self.last {
                return true;
            }
            if w.chars().count() > 1 {
                return false;
            }
        }
        false
    }
}

/// Removes the signature (see the module documentation).
fn signature_stage(lines: &mut [Line], sender: Option<&SenderName>) {
    let kept: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].keep && !is_blank(&lines[i].text))
        .collect();
    let mut fence = false;
    for (pos, &i) in kept.iter().enumerate() {
        let t = lines[i].text.trim_end();
        if is_fence(t) {
            fence = !fence;
            continue;
        }
        if fence || t.len() > MAX_HEADER_LEN {
            continue;
        }
        let dashes = t.trim_start() == "--"
            || is_separator(t, 5)
            || is_separator(t, 2) && t.trim_start().starts_with('_');
        let signature = dashes
            || is_mobile_signature(t)
            || sender.is_some_and(|s| {
                pos > 0
                    && kept.len() - pos <= 6
                    && t.chars().count() <= 80
                    && i > 0
                    && is_blank(&lines[i - 1].text)
                    && s.starts(t)
            });
        if !signature {
            continue;
        }
        let mut from = i;
        if dashes && pos > 0 && DASH_SIGNOFF.is_match(&lines[kept[pos - 1]].text) {
            from = kept[pos - 1];
        }
        cut(lines, from);
        drop_trailing_quote(lines);
        return;
    }
}

/// A quote block left at the end once the signature is gone ("> old\n\n--
/// \nBob") is history too, when reply text stands above it.
fn drop_trailing_quote(lines: &mut [Line]) {
    let Some(last) = (0..lines.len())
        .rev()
        .find(|&i| lines[i].keep && !is_blank(&lines[i].text))
    else {
        return;
    };
    if !is_quote(&lines[last].text) {
        return;
    }
    let mut start = last;
    while start > 0 {
        let prev = &lines[start - 1];
        if prev.keep && !is_blank(&prev.text) && !is_quote(&prev.text) {
            break;
        }
        start -= 1;
    }
    if has_text_before(lines, start) {
        cut(lines, start);
    }
}

/// The kept lines as written, each right-trimmed, without blank lines
/// around them.
fn render_kept(lines: &[Line]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for l in lines.iter().filter(|l| l.keep) {
        for part in l.orig.split('\n') {
            out.push(part.trim_end());
        }
    }
    let start = out.iter().position(|l| !l.is_empty()).unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |p| p + 1);
    out[start..end].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_text() {
        assert_eq!(
            visible_text("Hello there\n\nBye", None),
            "Hello there\n\nBye"
        );
        assert_eq!(visible_text("", None), "");
        assert_eq!(visible_text("\r\n\r\n", None), "");
    }

    #[test]
    fn drops_text_below_the_reply_marker() {
        let body = format!("Fixed, thanks!\n\n> {REPLY_MARKER}\n> Ticket #4 was updated");
        assert_eq!(visible_text(&body, None), "Fixed, thanks!");
        let inline = format!("Yes please{REPLY_MARKER}\nold");
        assert_eq!(visible_text(&inline, None), "Yes please");
    }

    #[test]
    fn strips_attribution_and_quote() {
        let cases = [
            (
                "Works now.\n\nOn Tue, 3 May 2022 at 10:00, Ann <ann@x.org> wrote:\n> broken?\n",
                "Works now.",
            ),
            (
                "Ja.\n\nAm 3. Mai 2022 um 10:00 schrieb Ann <ann@x.org>:\n\n> kaputt?",
                "Ja.",
            ),
            (
                "Oui.\n\nLe mar. 3 mai 2022 à 10:00, Ann <ann@x.org> a écrit :\n> cassé ?",
                "Oui.",
            ),
            (
                "Sí.\n\nEl mar, 3 may 2022 a las 10:00, Ann (<ann@x.org>) escribió:\n> ¿roto?",
                "Sí.",
            ),
            (
                "Yes.\n\n2022-05-03 10:00 GMT+02:00 Ann <ann@x.org>:\n\n> broken?",
                "Yes.",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(visible_text(body, None), want, "{body:?}");
        }
    }

    #[test]
    fn joins_wrapped_attributions() {
        let body =
            "Done.\n\nOn Tue, 3 May 2022 at 10:00, Ann Example <\nann@example.org> wrote:\n\n> old";
        assert_eq!(visible_text(body, None), "Done.");
        assert_eq!(
            removed_text(body, None),
            "On Tue, 3 May 2022 at 10:00, Ann Example < ann@example.org> wrote:\n\n> old"
        );
        let three = "Ok\n\nIl giorno lun 4 lug 2022 alle ore 08:12 Ann <ann@exa=\nmple.org>\nha scritto:\n> vecchio";
        assert_eq!(visible_text(three, None), "Ok");
    }

    #[test]
    fn splits_attribution_sharing_a_line() {
        assert_eq!(
            strip_quotes("fine--- On Mon, May 2, 2022 at 9:00 AM, a@b.c wrote:\n> q"),
            "fine"
        );
    }

    #[test]
    fn strips_outlook_blocks_and_separators() {
        let body = "Reply\n________________________________\nFrom: Ann <ann@x.org>\nSent: Monday\nTo: Bob\nSubject: Re: x\n\nold";
        assert_eq!(visible_text(body, None), "Reply");
        let de = "Antwort\n\nVon: Ann\nGesendet: Montag\nAn: Bob\nBetreff: x\n\nalt";
        assert_eq!(visible_text(de, None), "Antwort");
        let orig = "New\n\n-----Original Message-----\nold";
        assert_eq!(visible_text(orig, None), "New");
    }

    #[test]
    fn a_lone_field_is_not_a_header_block() {
        let body = "From: the shop\nI got a broken cup.\n\nDate: Monday\nTime: 10:00";
        assert_eq!(visible_text(body, None), body);
    }

    #[test]
    fn keeps_forwarded_messages() {
        let body = "FYI\n\n---------- Forwarded message ----------\nFrom: a@b.c\nDate: Mon\nSubject: s\nTo: d@e.f\n\nText";
        assert_eq!(visible_text(body, None), body);
    }

    #[test]
    fn quotes_answered_inline_are_kept() {
        let body = "See below.\n> is it late?\nNo.\n> and the fee?\nNone.";
        assert_eq!(visible_text(body, None), body);
        assert_eq!(visible_text("> only a quote", None), "> only a quote");
        assert_eq!(visible_text("Answer\n\n> old\n> older", None), "Answer");
    }

    #[test]
    fn bottom_posted_reply_and_signoff_survive() {
        let bottom = "On Tue, 3 May 2022, Ann <ann@x.org> wrote:\n> q\n\nMy answer";
        assert_eq!(visible_text(bottom, None), "My answer");
        let signoff = "Answer\n\nOn Tue, 3 May 2022, Ann <ann@x.org> wrote:\n> q\n\nRegards, Bob";
        assert_eq!(visible_text(signoff, None), "Answer\n\nRegards, Bob");
    }

    #[test]
    fn strips_signatures() {
        assert_eq!(
            visible_text("Parcel\n\nSent via FedEx yesterday\n\nTracking 42", None),
            "Parcel\n\nSent via FedEx yesterday\n\nTracking 42"
        );
        assert_eq!(
            visible_text("Ok\n\nSent from TypeApp<http://t.example/?a=1>\nold", None),
            "Ok"
        );
        assert_eq!(visible_text("Hi\n\n-- \nBob\nACME", None), "Hi");
        assert_eq!(visible_text("Hi\n\nSent from my iPhone", None), "Hi");
        assert_eq!(visible_text("Hi\n\nVon meinem iPhone gesendet", None), "Hi");
        assert_eq!(
            visible_text("Hi\n\nSent from my desk, which is nicer.", None),
            "Hi\n\nSent from my desk, which is nicer."
        );
        assert_eq!(
            visible_text("Hi\n\n-Bob\n\n______\nlist footer", None),
            "Hi"
        );
        assert_eq!(visible_text("Hi\n\n-Bob", None), "Hi\n\n-Bob");
        // Markdown rules are not separators.
        assert_eq!(visible_text("A\n---\nB", None), "A\n---\nB");
        // Nor is anything inside a code fence.
        let code = "See:\n```\n--\nSent from my iPhone\n```\nok";
        assert_eq!(visible_text(code, None), code);
    }

    #[test]
    fn strip_quotes_keeps_signatures() {
        assert_eq!(
            strip_quotes("Hi \n\nSent from my iPhone"),
            "Hi \n\nSent from my iPhone"
        );
    }

    #[test]
    fn signature_by_sender_name() {
        let body = "Please help.\n\nAnn B. Example | Buyer\nACME";
        assert_eq!(
            visible_text(body, Some("Ann Example <ann@x.org>")),
            "Please help."
        );
        assert_eq!(
            visible_text(body, Some("Example, Ann <ann@x.org>")),
            "Please help."
        );
        assert_eq!(
            visible_text(body, Some("ann.example@x.org")),
            "Please help."
        );
        let mention = "I am Ann Example.\n\nPlease help.";
        assert_eq!(
            visible_text(mention, Some("Ann Example <ann@x.org>")),
            mention
        );
    }

    #[test]
    fn removed_text_is_the_rest() {
        let body = "Hi\n\nOn Tue, 3 May 2022, Ann <ann@x.org> wrote:\nAnn> old\n| older";
        assert_eq!(
            removed_text(body, None),
            "On Tue, 3 May 2022, Ann <ann@x.org> wrote:\n> old\n> older"
        );
        assert_eq!(removed_text("just text", None), "");
    }

    #[test]
    fn normalizes_newlines() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let odd = [
            "\u{feff}é>\r\r\n>",
            "On 1 wrote:",
            ">",
            "ᐧ",
            "From:",
            "a\u{0}b\nOn Tue, 1 Jan 2020, x@y.z wrote:\n>",
            "ß>ü\n|",
            "-\n--\n---",
        ];
        for s in odd {
            let _ = visible_text(s, Some("<>"));
            let _ = strip_quotes(s);
            let _ = removed_text(s, Some("Ä, Ö"));
        }
        // Many quote blocks and attributions: still one pass.
        let many = "text\n> q\n\nOn 1 May 2020, a@b.c wrote:\n> q\n\nmore\n".repeat(20_000);
        let start = std::time::Instant::now();
        let _ = visible_text(&many, None);
        assert!(start.elapsed().as_secs() < 5);
        let long = ">".repeat(200_000) + "\n" + &"x".repeat(100_000);
        let start = std::time::Instant::now();
        let _ = visible_text(&long, None);
        assert!(start.elapsed().as_secs() < 2);
    }
}
