//! The charset of a text part whose label cannot be trusted. mail-parser
//! decodes every part with the charset it declares; a part that declares
//! none, declares US-ASCII while carrying 8-bit bytes, or declares UTF-8
//! while its bytes are not, would come out as mojibake (Big5 read as
//! Windows-1252, say). Such a part is decoded again here with the charset
//! chardetng (Firefox's detector) finds; an HTML part that names its
//! charset only in a `<meta>` tag gets that one. Parts whose bytes are
//! plain ASCII, or whose declared charset decodes them cleanly, are left as
//! mail-parser gave them.

use std::borrow::Cow;

use encoding_rs::Encoding;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding as Transfer, MessagePart, MimeHeaders};

/// The detector reads at most this much of a part: enough for any text to
/// show its charset, and a bound on the time a huge part can take.
const MAX_DETECT_BYTES: usize = 64 * 1024;

/// Labels that promise 7-bit text (RFC 2046's default when none is given).
fn is_ascii_label(label: &str) -> bool {
    matches!(
        label.trim().to_ascii_lowercase().as_str(),
        "us-ascii" | "ascii" | "us_ascii" | "ansi_x3.4-1968" | "iso646-us" | "646" | "us"
    )
}

/// The part's text decoded again when its label is missing or wrong;
/// `None` to keep what mail-parser decoded.
pub(super) fn redecode(raw_message: &[u8], part: &MessagePart<'_>, html: bool) -> Option<String> {
    let label = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::to_owned);
    let raw = raw_message.get(part.offset_body as usize..part.offset_end as usize)?;
    let bytes = transfer_decode(raw, part.encoding)?;
    // 7-bit text is what mail-parser read, unless it is ISO-2022-JP (7-bit
    // escapes) sent without its label.
    if bytes.is_ascii() && find(&bytes, b"\x1b$B").is_none() && find(&bytes, b"\x1b$@").is_none() {
        return None;
    }
    let declared = label
        .as_deref()
        .and_then(|l| Encoding::for_label(l.trim().as_bytes()));
    let suspect = match (label.as_deref(), declared) {
        (None, _) => true,
        (Some(l), _) if is_ascii_label(l) => true,
        // UTF-8 that is not: the label is wrong.
        (Some(_), Some(enc)) if enc == encoding_rs::UTF_8 => std::str::from_utf8(&bytes).is_err(),
        // A label neither decoder knows: mail-parser fell back to UTF-8.
        (Some(l), None) => charset_decoder(l.trim().as_bytes()).is_none(),
        (Some(_), Some(_)) => false,
    };
    if !suspect {
        return None;
    }
    let enc = (html && declared.is_none())
        .then(|| meta_charset(&bytes))
        .flatten()
        .unwrap_or_else(|| detect(&bytes));
    let (text, _, _) = enc.decode(&bytes);
    Some(text.into_owned())
}

/// The body bytes without their transfer encoding.
fn transfer_decode(raw: &[u8], encoding: Transfer) -> Option<Cow<'_, [u8]>> {
    match encoding {
        Transfer::Base64 => base64_decode(raw).map(Cow::Owned),
        Transfer::QuotedPrintable => quoted_printable_decode(raw).map(Cow::Owned),
        _ => Some(Cow::Borrowed(raw)),
    }
}

/// chardetng's guess: UTF-8 when the bytes are valid UTF-8, else the
/// legacy encoding whose statistics fit the text best.
fn detect(bytes: &[u8]) -> &'static Encoding {
    // ISO-2022-JP is allowed: the text is shown as text, never run.
    let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    let n = bytes.len().min(MAX_DETECT_BYTES);
    det.feed(&bytes[..n], n == bytes.len());
    det.guess(None, chardetng::Utf8Detection::Allow)
}

/// `<meta charset="…">` or `<meta http-equiv="Content-Type" content="…;
/// charset=…">` in the first kilobytes of an HTML part.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let at = find(&lower, b"charset=")? + b"charset=".len();
    let rest = &head[at..];
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')))
        .unwrap_or(rest.len());
    Encoding::for_label(&rest[..end])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_text(raw: &[u8]) -> Option<String> {
        let msg = mail_parser::MessageParser::default().parse(raw)?;
        let part = msg.parts.first()?;
        redecode(msg.raw_message(), part, false)
    }

    #[test]
    fn big5_labelled_us_ascii_is_detected() {
        // "我的訂單還沒有到，請幫我查一下。" in Big5.
        let (big5, _, _) =
            encoding_rs::BIG5.encode("我的訂單還沒有到，請幫我查一下。謝謝您的協助。");
        let mut raw = b"From: a@b.c\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n".to_vec();
        raw.extend_from_slice(&big5);
        assert_eq!(
            part_text(&raw).as_deref(),
            Some("我的訂單還沒有到，請幫我查一下。謝謝您的協助。")
        );
    }

    #[test]
    fn a_truthful_label_is_kept() {
        let raw = "From: a@b.c\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n";
        assert_eq!(part_text(raw.as_bytes()), None);
        let raw =
            b"From: a@b.c\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\xfc\xdfe\r\n";
        assert_eq!(part_text(raw), None);
        let ascii = b"From: a@b.c\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nplain\r\n";
        assert_eq!(part_text(ascii), None);
    }

    #[test]
    fn utf8_that_is_not_is_detected() {
        let raw = b"From: a@b.c\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDie Gr\xfc\xdfe kamen nicht an, bitte pr\xfcfen.\r\n";
        let text = part_text(raw).unwrap_or_default();
        assert!(text.contains("Grüße") && text.contains("prüfen"), "{text}");
    }

    #[test]
    fn html_meta_charset() {
        let html = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1250\"></head><body>\x9ala\x9ai</body></html>";
        assert_eq!(meta_charset(html), Some(encoding_rs::WINDOWS_1250));
        assert_eq!(meta_charset(b"<p>no meta</p>"), None);
    }
}
