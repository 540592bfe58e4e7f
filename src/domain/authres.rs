//! Parses `Authentication-Results` headers (RFC 8601) and decides whether the
//! MTA we trust proved the sender's domain, so a forged From is not taken at its word.

/// Results kept per header; the rest of a hostile header is not even scanned.
const MAX_RESULTS: usize = 64;
/// Properties kept per result; further ones are scanned and dropped.
const MAX_PROPS: usize = 32;
/// Characters of a [`Verdict::NotProved`] detail.
const MAX_DETAIL: usize = 200;
/// Properties whose values are domains or addresses, hence lower-cased.
const DOMAIN_PROPS: [&str; 4] = ["header.d", "header.from", "smtp.mailfrom", "header.i"];

/// One header, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    /// The authserv-id, lower-cased (e.g. "mx.google.com").
    pub authserv_id: String,
    /// Each resinfo in order (empty for "none").
    pub results: Vec<MethodResult>,
}

/// One resinfo: `method=result [reason=...] ptype.property=value ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    /// Lower-cased method name ("dkim", "spf", "dmarc", ...); a version is dropped.
    pub method: String,
    /// Lower-cased result value: "pass", "fail", "none", "neutral", "temperror", ...
    pub result: String,
    /// The first `reason=` value, unquoted.
    pub reason: Option<String>,
    /// `ptype.property` (lower-cased) and its unquoted value, in order. Values of
    /// header.d, header.from, smtp.mailfrom and header.i are lower-cased too. A
    /// dot-less `word=value` after the result (Microsoft's `action=none`) is kept
    /// under the bare name.
    pub props: Vec<(String, String)>,
}

impl MethodResult {
    /// The value of the first property such as "header.d".
    pub fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the trusted Authentication-Results headers say about a From domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `dmarc=pass` with header.from equal to the domain, or `dkim=pass` with
    /// header.d equal to it or to a parent domain of it.
    Pass {
        /// The trusted server that reported it.
        authserv_id: String,
        /// "dmarc" or "dkim".
        method: String,
        /// The header.from or header.d that proved it.
        domain: String,
    },
    /// A trusted header exists but proves nothing for this domain; `detail` is
    /// what it reported, e.g. "mx.example.test: dkim=fail header.d=acme.test".
    NotProved { authserv_id: String, detail: String },
    /// No header from a trusted authserv-id (or no header at all, or nothing trusted).
    NoTrustedHeader,
}

/// Parses one header value (everything after "Authentication-Results:"; folded
/// lines count as whitespace). None when there is no usable authserv-id: the
/// value is empty, starts with ";", has an authres-version other than 1, or
/// starts with `method=` as Microsoft 365 writes it (`spf=pass ...` without an
/// id). Such headers cannot be attributed to a server, so they never count;
/// Microsoft 365 users rely on their own edge MTA's header instead.
///
/// Lenient the real-world way: comments are skipped, a resinfo that does not
/// look like `method=result` is skipped up to the next ";", stray tokens inside
/// one are dropped. Linear time; never panics.
pub fn parse(value: &str) -> Option<AuthResults> {
    let mut c = Cursor { s: value, pos: 0 };
    c.skip_cfws();
    let id = if c.peek() == Some('"') {
        c.quoted()
    } else {
        c.take_while(|ch| is_value_char(ch) && ch != '=').to_owned()
    };
    c.skip_cfws();
    if id.is_empty() || c.peek() == Some('=') {
        return None;
    }
    if c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
        let version = c.take_while(|ch| ch.is_ascii_digit());
        if version.trim_start_matches('0') != "1" {
            return None;
        }
    }
    let mut results = Vec::new();
    loop {
        c.skip_cfws();
        match c.peek() {
            None => break,
            Some(';') => {
                if results.len() >= MAX_RESULTS {
                    break;
                }
                c.bump();
                if let Some(r) = resinfo(&mut c) {
                    results.push(r);
                }
            }
            Some(_) => c.skip_to_semicolon(),
        }
    }
    Some(AuthResults {
        authserv_id: id.to_lowercase(),
        results,
    })
}

/// One resinfo after its ";". None for "none" and anything not `method=result`;
/// the caller then skips to the next ";".
fn resinfo(c: &mut Cursor) -> Option<MethodResult> {
    c.skip_cfws();
    let method = c.take_while(is_keyword_char).to_ascii_lowercase();
    c.skip_cfws();
    if c.peek() == Some('/') {
        c.bump();
        c.skip_cfws();
        c.take_while(|ch| ch.is_ascii_digit());
        c.skip_cfws();
    }
    if method.is_empty() || c.peek() != Some('=') {
        return None;
    }
    c.bump();
    c.skip_cfws();
    let result = c.take_while(is_keyword_char).to_ascii_lowercase();
    if result.is_empty() {
        return None;
    }
    let mut out = MethodResult {
        method,
        result,
        reason: None,
        props: Vec::new(),
    };
    loop {
        c.skip_cfws();
        if matches!(c.peek(), None | Some(';')) {
            return Some(out);
        }
        let word = c.take_while(is_keyword_char).to_ascii_lowercase();
        if word.is_empty() {
            // A stray character (",", "@", a quoted string...): drop it.
            if c.peek() == Some('"') {
                c.quoted();
            } else {
                c.bump();
            }
            continue;
        }
        c.skip_cfws();
        let name = match c.peek() {
            Some('.') => {
                c.bump();
                c.skip_cfws();
                let property = c.take_while(is_keyword_char).to_ascii_lowercase();
                c.skip_cfws();
                if property.is_empty() || c.peek() != Some('=') {
                    continue;
                }
                format!("{word}.{property}")
            }
            Some('=') => word,
            _ => continue,
        };
        c.bump(); // the "="
        let value = c.pvalue();
        if name == "reason" {
            out.reason.get_or_insert(value);
        } else if out.props.len() < MAX_PROPS {
            let value = if DOMAIN_PROPS.contains(&name.as_str()) {
                value.to_lowercase()
            } else {
                value
            };
            out.props.push((name, value));
        }
    }
}

/// Whether `from_domain` is proved by the headers that count.
///
/// `headers` are the raw values of every Authentication-Results header of the
/// mail, topmost (newest) first; `trusted` the configured authserv-ids, compared
/// case-insensitively.
///
/// Which headers count: our MTA prepends its header, so the trustworthy ones are
/// on top. Walking from the top, headers not from a trusted id are skipped until
/// the first trusted one (a local filter may add its own above); then every
/// header of that contiguous trusted block counts, and the walk stops at the
/// first header after it that is not trusted (or not parseable). Anything below
/// the block is ignored even if it claims a trusted id: whoever sends the mail
/// can write such a header, and we do not rely on the MTA stripping it. (We do
/// rely on our MTA adding its own: without it a forged one would be on top.)
///
/// Within the counted block a `dmarc=fail` (also "reject"/"quarantine") whose
/// header.from is `from_domain`, or which names no header.from at all, wins over
/// any pass: the domain's owner said this mail is not theirs. Otherwise the first
/// `dmarc=pass` with header.from equal to `from_domain`, or `dkim=pass` with
/// header.d equal to it or a parent domain of it, is a pass. A domain without a
/// dot ("test", "com") never counts, nor does an empty `from_domain`.
pub fn verdict(headers: &[&str], trusted: &[String], from_domain: &str) -> Verdict {
    let trusted: Vec<String> = trusted
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let from = from_domain.trim().to_lowercase();
    let mut counted = Vec::new();
    for header in headers {
        match parse(header).filter(|ar| trusted.contains(&ar.authserv_id)) {
            Some(ar) => counted.push(ar),
            None if counted.is_empty() => {}
            None => break,
        }
    }
    let Some(first) = counted.first() else {
        return Verdict::NoTrustedHeader;
    };
    for ar in &counted {
        for r in &ar.results {
            let dmarc_fail = r.method == "dmarc"
                && matches!(r.result.as_str(), "fail" | "reject" | "quarantine");
            if dmarc_fail && r.prop("header.from").is_none_or(|d| domain_of(d) == from) {
                return Verdict::NotProved {
                    authserv_id: ar.authserv_id.clone(),
                    detail: bounded(format!("{}: {}", ar.authserv_id, describe(r))),
                };
            }
        }
    }
    for ar in &counted {
        for r in ar.results.iter().filter(|r| r.result == "pass") {
            let domain = match r.method.as_str() {
                "dmarc" => r
                    .prop("header.from")
                    .map(domain_of)
                    .filter(|d| *d == from && is_multi_label(d)),
                "dkim" => r.prop("header.d").filter(|d| is_parent_or_self(d, &from)),
                _ => None,
            };
            if let Some(domain) = domain {
                return Verdict::Pass {
                    authserv_id: ar.authserv_id.clone(),
                    method: r.method.clone(),
                    domain: domain.to_owned(),
                };
            }
        }
    }
    Verdict::NotProved {
        authserv_id: first.authserv_id.clone(),
        detail: bounded(summary(first)),
    }
}

/// The domain of a header.from value: the part after the last "@", if any.
fn domain_of(value: &str) -> &str {
    value.rsplit_once('@').map_or(value, |(_, d)| d)
}

/// "acme.test" but not "test", ".test" or "acme.".
fn is_multi_label(d: &str) -> bool {
    d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
}

/// Whether header.d `d` is `from` or a parent domain of it (on a label boundary).
fn is_parent_or_self(d: &str, from: &str) -> bool {
    is_multi_label(d)
        && from
            .strip_suffix(d)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// "dkim=fail header.d=acme.test": the result with its identifying properties.
fn describe(r: &MethodResult) -> String {
    let mut s = format!("{}={}", r.method, r.result);
    for (k, v) in r
        .props
        .iter()
        .filter(|(k, _)| DOMAIN_PROPS.contains(&k.as_str()))
    {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// "mx.example.test: dkim=fail header.d=acme.test; spf=none".
fn summary(ar: &AuthResults) -> String {
    let parts: Vec<String> = ar.results.iter().map(describe).collect();
    let body = if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join("; ")
    };
    format!("{}: {body}", ar.authserv_id)
}

/// At most [`MAX_DETAIL`] characters, control characters (from hostile quoted
/// strings) replaced, so the detail is safe for a log line.
fn bounded(s: String) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_DETAIL)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().nth(MAX_DETAIL).is_some() {
        out.push('…');
    }
    out
}

/// Characters of an unquoted value (wider than RFC 2045 tokens: real producers
/// write "@", "/", "+" and "=" unquoted in header.i and header.b).
fn is_value_char(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !matches!(c, '(' | ')' | ';' | '"')
}

/// Characters of a method, result, ptype or property name.
fn is_keyword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A position in the header value; moves by whole characters only.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos..)?.chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.bump();
        }
        self.s.get(start..self.pos).unwrap_or("")
    }

    /// Whitespace (folding included) and comments.
    fn skip_cfws(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('(') => self.skip_comment(),
                _ => return,
            }
        }
    }

    /// A comment, nested, with quoted-pairs; an unclosed one runs to the end.
    /// Counts depth instead of recursing, so deep nesting costs no stack.
    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// A quoted-string at the cursor, unquoted; an unclosed one runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = String::new();
        self.bump();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => out.extend(self.bump()),
                c => out.push(c),
            }
        }
        out
    }

    /// A property or reason value: quoted-string or a run of value characters.
    fn pvalue(&mut self) -> String {
        self.skip_cfws();
        if self.peek() == Some('"') {
            self.quoted()
        } else {
            self.take_while(is_value_char).to_owned()
        }
    }

    /// Up to the next ";" outside comments and quoted strings.
    fn skip_to_semicolon(&mut self) {
        loop {
            match self.peek() {
                None | Some(';') => return,
                Some('(') => self.skip_comment(),
                Some('"') => {
                    self.quoted();
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A result from "method=result ptype.property=value ...", with a reason.
    fn rr(spec: &str, reason: Option<&str>) -> MethodResult {
        let mut words = spec.split(' ').filter_map(|w| w.split_once('='));
        let (method, result) = words.next().unwrap_or_default();
        MethodResult {
            method: method.into(),
            result: result.into(),
            reason: reason.map(Into::into),
            props: words.map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    fn r(spec: &str) -> MethodResult {
        rr(spec, None)
    }

    fn check(input: &str, id: &str, results: &[MethodResult]) {
        let got = parse(input).unwrap_or_else(|| panic!("no parse: {input}"));
        assert_eq!(got.authserv_id, id, "{input}");
        assert_eq!(got.results, results, "{input}");
    }

    #[test]
    fn parses_rfc8601_appendix_b() {
        // B.2
        check("example.org 1; none", "example.org", &[]);
        // B.3
        check(
            "example.com;\r\n          spf=pass smtp.mailfrom=example.net",
            "example.com",
            &[r("spf=pass smtp.mailfrom=example.net")],
        );
        // B.4, both headers
        check(
            "example.com;\r\n    auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n    \
             spf=pass smtp.mailfrom=example.net",
            "example.com",
            &[
                r("auth=pass smtp.auth=sender@example.net"),
                r("spf=pass smtp.mailfrom=example.net"),
            ],
        );
        check(
            "example.com; iprev=pass\r\n    policy.iprev=192.0.2.200",
            "example.com",
            &[r("iprev=pass policy.iprev=192.0.2.200")],
        );
        // B.5, both headers
        check(
            "example.com;\r\n    sender-id=fail header.from=example.com;\r\n    \
             dkim=pass (good signature) header.d=example.com",
            "example.com",
            &[
                r("sender-id=fail header.from=example.com"),
                r("dkim=pass header.d=example.com"),
            ],
        );
        check(
            "example.com;\r\n    auth=pass (cram-md5) smtp.auth=sender@example.com;\r\n    \
             spf=fail smtp.mailfrom=example.com",
            "example.com",
            &[
                r("auth=pass smtp.auth=sender@example.com"),
                r("spf=fail smtp.mailfrom=example.com"),
            ],
        );
        // B.6, both headers
        check(
            B6[0],
            "example.com",
            &[
                rr(
                    "dkim=pass header.i=@mail-router.example.net",
                    Some("good signature"),
                ),
                rr(
                    "dkim=fail header.i=@newyork.example.com",
                    Some("bad signature"),
                ),
            ],
        );
        check(
            B6[1],
            "example.net",
            &[r("dkim=pass header.i=@newyork.example.com")],
        );
        // B.7
        check(
            "foo.example.net (foobar) 1 (baz);\r\n    \
             dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n      \
             policy (A dot can go here) . (like that) expired\r\n      \
             (this surprised me) = (as I wasn't expecting it) 1362471462",
            "foo.example.net",
            &[r("dkim=fail policy.expired=1362471462")],
        );
    }

    const B6: [&str; 2] = [
        "example.com;\r\n    dkim=pass reason=\"good signature\"\r\n      \
         header.i=@mail-router.example.net;\r\n    dkim=fail reason=\"bad signature\"\r\n      \
         header.i=@newyork.example.com",
        "example.net;\r\n    dkim=pass (good signature) header.i=@newyork.example.com",
    ];

    #[test]
    fn parses_gmail() {
        // With its ARC comment, base64 in header.b and case to fold.
        check(
            "mx.google.com;\r\n       \
             dkim=pass header.i=@Acme.TEST header.s=S1 header.b=Ab+C/d9=;\r\n       \
             arc=pass (i=1 spf=pass spfdomain=acme.test dkim=pass dkdomain=acme.test);\r\n       \
             spf=pass (google.com: domain of ann@acme.test designates 192.0.2.1 as permitted \
             sender) smtp.mailfrom=ann@acme.test;\r\n       \
             dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=acme.test",
            "mx.google.com",
            &[
                r("dkim=pass header.i=@acme.test header.s=S1 header.b=Ab+C/d9="),
                r("arc=pass"),
                r("spf=pass smtp.mailfrom=ann@acme.test"),
                r("dmarc=pass header.from=acme.test"),
            ],
        );
    }

    #[test]
    fn parses_microsoft_365() {
        // Without an authserv-id (as Microsoft 365 writes it): unusable.
        let m365 = "spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=acme.test; dkim=pass \
                    (signature was verified) header.d=acme.test;dmarc=pass action=none \
                    header.from=acme.test;compauth=pass reason=100";
        assert_eq!(parse(m365), None);
        // Its tail behind an id: "action" is a dot-less property, "compauth" a method.
        check(
            "MX.Example.Test; dmarc=pass action=none header.from=acme.test;compauth=pass \
             reason=100",
            "mx.example.test",
            &[
                r("dmarc=pass action=none header.from=acme.test"),
                rr("compauth=pass", Some("100")),
            ],
        );
    }

    #[test]
    fn parses_opendkim_and_opendmarc() {
        // A ";" inside the comment.
        check(
            "mail.example.test;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=acme.test \
             header.i=@acme.test header.a=rsa-sha256 header.s=mail header.b=XyZ",
            "mail.example.test",
            &[r(
                "dkim=pass header.d=acme.test header.i=@acme.test header.a=rsa-sha256 \
                 header.s=mail header.b=XyZ",
            )],
        );
        check(
            "mail.example.test; dmarc=pass (p=reject dis=none) header.from=acme.test",
            "mail.example.test",
            &[r("dmarc=pass header.from=acme.test")],
        );
    }

    #[test]
    fn parses_rspamd() {
        // Quotes inside a comment.
        check(
            "mail.example.test; dkim=pass header.d=acme.test header.s=dkim header.b=abc; \
             spf=pass (mail.example.test: domain of \"ann@acme.test\" designates 192.0.2.1 as \
             permitted sender) smtp.mailfrom=ann@acme.test; dmarc=pass (policy=reject) \
             header.from=acme.test",
            "mail.example.test",
            &[
                r("dkim=pass header.d=acme.test header.s=dkim header.b=abc"),
                r("spf=pass smtp.mailfrom=ann@acme.test"),
                r("dmarc=pass header.from=acme.test"),
            ],
        );
    }

    #[test]
    fn is_lenient_with_odd_but_harmless_input() {
        check(
            "\"mx.example.test\";dkim/1=pass header.d=acme.test (1024-bit key)",
            "mx.example.test",
            &[r("dkim=pass header.d=acme.test")],
        );
        check(
            "mx; spf; junk here; dkim=; =pass; dkim=pass, header.d=a.test stray",
            "mx",
            &[r("dkim=pass header.d=a.test")],
        );
        check(
            "mx; dkim=pass reason=\"a \\\"b\\\"\" reason=second header.d=\"A.Test\"",
            "mx",
            &[rr("dkim=pass header.d=a.test", Some("a \"b\""))],
        );
        check(
            "mx.例え.TEST (ß) ; dkim=pass header.d=ÉCOLE.test x.y=é",
            "mx.例え.test",
            &[r("dkim=pass header.d=école.test x.y=é")],
        );
    }

    #[test]
    fn rejects_headers_without_a_usable_id() {
        for input in [
            "spf = pass",
            "",
            "   ",
            "(only a comment)",
            "; dkim=pass",
            "\"\"; none",
            "example.com 2; none",
        ] {
            assert_eq!(parse(input), None, "{input:?}");
        }
    }

    #[test]
    fn caps_results_and_props() {
        let many = format!("mx{}", "; dkim=pass".repeat(1000));
        assert_eq!(parse(&many).map(|a| a.results.len()), Some(MAX_RESULTS));
        let props = format!("mx; dkim=pass{}", " a.b=c".repeat(1000));
        assert_eq!(
            parse(&props).map(|a| a.results[0].props.len()),
            Some(MAX_PROPS)
        );
    }

    #[test]
    fn survives_hostile_input_in_bounded_time() {
        let start = Instant::now();
        let deep = "(".repeat(100_000);
        let inputs = [
            ";".repeat(100_000),
            format!("mx{}", ";".repeat(100_000)),
            deep.clone(),
            format!("mx {deep}"),
            format!("mx; dkim=pass {deep}"),
            format!("mx; dkim=pass header.d={}", "\\".repeat(100_000)),
            "\"".repeat(100_000),
            format!("mx; {}", "a.".repeat(50_000)),
            format!("mx; dkim=pass {}", "=".repeat(100_000)),
            format!("mx; dkim=pass {}", "a=".repeat(50_000)),
            "é(\u{0}\"\\".repeat(20_000),
        ];
        for input in &inputs {
            let _ = parse(input);
            let _ = verdict(&[input.as_str()], &["mx".to_owned()], "acme.test");
        }
        // Deterministic junk from the characters the grammar cares about.
        let alphabet: Vec<char> = "a.=;()\"\\/@ \r\n\té1".chars().collect();
        let mut seed = 0x2545_f491_u32;
        for _ in 0..2_000 {
            let s: String = (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    alphabet[seed as usize % alphabet.len()]
                })
                .collect();
            let _ = parse(&s);
        }
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    const MX: &str = "mx.example.test";

    /// Asserts the verdict with "mx.example.test" and "mx2.example.test" trusted.
    fn case(headers: &[&str], from: &str, expected: Verdict) {
        let trusted = [MX.to_owned(), " MX2.example.test ".to_owned()];
        assert_eq!(verdict(headers, &trusted, from), expected, "{headers:?}");
    }

    fn pass(method: &str, domain: &str) -> Verdict {
        Verdict::Pass {
            authserv_id: MX.into(),
            method: method.into(),
            domain: domain.into(),
        }
    }

    /// NotProved by mx.example.test, with `detail` after the "mx.example.test: ".
    fn not_proved(detail: &str) -> Verdict {
        Verdict::NotProved {
            authserv_id: MX.into(),
            detail: format!("{MX}: {detail}"),
        }
    }

    #[test]
    fn verdict_passes() {
        let dmarc = "mx.example.test; spf=none; dmarc=pass header.from=acme.test";
        case(&[dmarc], "acme.test", pass("dmarc", "acme.test"));
        // A parent domain, and case-insensitivity of ids and domains.
        let parent = "mx.example.test; dkim=pass header.d=acme.test";
        case(&[parent], "mail.acme.test", pass("dkim", "acme.test"));
        let upper = "MX.Example.TEST; DKIM=Pass Header.D=ACME.test";
        case(&[upper], "Mail.Acme.Test", pass("dkim", "acme.test"));
        let address = "mx.example.test; dmarc=pass header.from=Ann@Acme.Test";
        case(&[address], "acme.test", pass("dmarc", "acme.test"));
    }

    #[test]
    fn verdict_not_proved() {
        let cases = [
            ("dkim=pass header.d=evil.example", "acme.test"),
            ("dkim=fail header.d=acme.test", "acme.test"),
            ("dkim=pass header.d=cme.test", "acme.test"),
            (
                "dkim=pass header.d=test; dmarc=pass header.from=test",
                "test",
            ),
            ("dmarc=pass", "acme.test"),
            ("dmarc=pass header.from=acme.test", "mail.acme.test"),
            ("spf=pass smtp.mailfrom=ann@acme.test", "acme.test"),
            ("dmarc=pass header.from=", ""),
        ];
        for (results, from) in cases {
            case(&[&format!("{MX}; {results}")], from, not_proved(results));
        }
        case(
            &["mx.example.test 1; none"],
            "acme.test",
            not_proved("none"),
        );
    }

    #[test]
    fn verdict_dmarc_fail_overrides_dkim_pass() {
        let both = "dkim=pass header.d=acme.test; dmarc=fail header.from=acme.test";
        let expected = not_proved("dmarc=fail header.from=acme.test");
        case(&[&format!("{MX}; {both}")], "acme.test", expected);
        let bare = "mx.example.test; dkim=pass header.d=acme.test; dmarc=fail";
        case(&[bare], "acme.test", not_proved("dmarc=fail"));
        let other = "dmarc=fail header.from=other.test; dkim=pass header.d=acme.test";
        case(
            &[&format!("{MX}; {other}")],
            "acme.test",
            pass("dkim", "acme.test"),
        );
    }

    #[test]
    fn verdict_counts_only_the_topmost_trusted_block() {
        let claim = "evil.example; dmarc=pass header.from=acme.test";
        case(&[claim], "acme.test", Verdict::NoTrustedHeader);
        case(&[], "acme.test", Verdict::NoTrustedHeader);
        // A forged header with our id below the real one, after another server's.
        let top_fail = "mx.example.test; dkim=fail header.d=acme.test";
        let relay = "relay.other.test; spf=pass";
        let forged = "mx.example.test; dmarc=pass header.from=acme.test";
        let expected = not_proved("dkim=fail header.d=acme.test");
        case(&[top_fail, relay, forged], "acme.test", expected);
        // The whole contiguous trusted block counts.
        let mx2 = "mx2.example.test; dkim=pass header.d=acme.test";
        let expected = Verdict::Pass {
            authserv_id: "mx2.example.test".into(),
            method: "dkim".into(),
            domain: "acme.test".into(),
        };
        case(&[top_fail, mx2], "acme.test", expected);
        // Untrusted or id-less headers above the first trusted one are skipped.
        let good = "mx.example.test; dkim=pass header.d=acme.test";
        let filter = "filter.local; dkim=fail header.d=acme.test";
        case(&[filter, good], "acme.test", pass("dkim", "acme.test"));
        let no_id = "spf=fail smtp.mailfrom=acme.test";
        case(&[no_id, good], "acme.test", pass("dkim", "acme.test"));
    }

    #[test]
    fn verdict_rfc_b6_counts_only_the_top_header() {
        let got = verdict(&B6, &["Example.COM".to_owned()], "newyork.example.com");
        let detail = "example.com: dkim=pass header.i=@mail-router.example.net; \
                      dkim=fail header.i=@newyork.example.com";
        assert_eq!(
            got,
            Verdict::NotProved {
                authserv_id: "example.com".into(),
                detail: detail.into(),
            }
        );
    }

    #[test]
    fn empty_trusted_list_trusts_nothing() {
        let h = ["mx.example.test; dmarc=pass header.from=acme.test"];
        assert_eq!(verdict(&h, &[], "acme.test"), Verdict::NoTrustedHeader);
        let blank = ["".to_owned(), "  ".to_owned()];
        assert_eq!(verdict(&h, &blank, "acme.test"), Verdict::NoTrustedHeader);
    }

    #[test]
    fn detail_is_bounded_and_printable() {
        let long = format!("mx; dkim=fail header.d=\"{}\u{1b}\"", "é".repeat(1000));
        let got = verdict(&[&long], &["mx".to_owned()], "acme.test");
        let Verdict::NotProved { detail, .. } = got else {
            panic!("expected NotProved, got {got:?}");
        };
        assert!(detail.chars().count() <= MAX_DETAIL + 1, "{detail}");
        assert!(!detail.chars().any(char::is_control));
    }
}
