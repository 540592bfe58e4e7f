//! Raw message bytes before they reach the MIME parser.
//!
//! mail-parser only recognises `\n` (with or without a preceding `\r`) as a
//! line break. Mail stored by old Mac tools or some gateways ends its lines
//! with a bare CR; parsed as is, the whole message would be one endless header
//! line and a bounce or auto-reply would pass for ordinary mail. A UTF-8 byte
//! order mark in front of the first header hides that header's name the same
//! way. Both are repaired here, once, before parsing.

use std::borrow::Cow;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Makes `raw` parseable whatever its line-ending convention: every bare CR
/// becomes CRLF (a CR directly before a CRLF is dropped instead, since
/// `\r\r\n` is a CRLF that went through a second LF→CRLF conversion, not two
/// line breaks), and a leading UTF-8 BOM is removed. LF and CRLF are left as
/// they are. Borrows when nothing needs changing, which is the common case.
pub fn normalize_line_endings(raw: &[u8]) -> Cow<'_, [u8]> {
    let body = raw.strip_prefix(BOM).unwrap_or(raw);
    let has_bare_cr = body
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\r' && body.get(i + 1) != Some(&b'\n'));
    if !has_bare_cr {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len() + body.len() / 16);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'\r' {
            match (body.get(i + 1), body.get(i + 2)) {
                (Some(b'\n'), _) => out.extend_from_slice(b"\r\n"),
                // `\r\r\n`: this CR is the stray one; the CRLF follows.
                (Some(b'\r'), Some(b'\n')) => {}
                _ => out.extend_from_slice(b"\r\n"),
            }
            if body.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lf_and_crlf_are_borrowed_unchanged() {
        let lf = b"Subject: a\nFrom: b@c.d\n\nbody\n";
        let crlf = b"Subject: a\r\nFrom: b@c.d\r\n\r\nbody\r\n";
        assert!(matches!(normalize_line_endings(lf), Cow::Borrowed(_)));
        assert_eq!(&*normalize_line_endings(lf), &lf[..]);
        assert!(matches!(normalize_line_endings(crlf), Cow::Borrowed(_)));
        assert_eq!(&*normalize_line_endings(crlf), &crlf[..]);
    }

    #[test]
    fn bare_cr_becomes_crlf() {
        let mac = b"Subject: a\rFrom: b@c.d\r\rbody\r";
        assert_eq!(
            &*normalize_line_endings(mac),
            &b"Subject: a\r\nFrom: b@c.d\r\n\r\nbody\r\n"[..]
        );
    }

    #[test]
    fn mixed_endings_keep_existing_crlf() {
        let mixed = b"A: 1\r\nB: 2\rC: 3\n";
        assert_eq!(
            &*normalize_line_endings(mixed),
            &b"A: 1\r\nB: 2\r\nC: 3\n"[..]
        );
    }

    #[test]
    fn doubled_cr_before_lf_is_one_line_break() {
        let doubled = b"A: 1\r\r\nB: 2\r\r\n\r\r\nbody";
        assert_eq!(
            &*normalize_line_endings(doubled),
            &b"A: 1\r\nB: 2\r\n\r\nbody"[..]
        );
    }

    #[test]
    fn leading_bom_is_stripped() {
        let with_bom = b"\xEF\xBB\xBFFrom: a@b.c\n\nhi\n";
        assert_eq!(
            &*normalize_line_endings(with_bom),
            &b"From: a@b.c\n\nhi\n"[..]
        );
        // Only at the very start: a BOM elsewhere is content.
        let inner = b"From: a@b.c\n\n\xEF\xBB\xBFhi\n";
        assert_eq!(&*normalize_line_endings(inner), &inner[..]);
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for raw in [
            &b""[..],
            b"\r",
            b"\r\r",
            b"\n",
            b"\xEF\xBB",
            b"\xEF\xBB\xBF",
            b"\r\r\r\n",
        ] {
            let out = normalize_line_endings(raw);
            assert!(!out.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
        }
        assert_eq!(&*normalize_line_endings(b"\r"), &b"\r\n"[..]);
    }
}
