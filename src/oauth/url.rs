//! The little of URL handling the token endpoints need: split an `http(s)`
//! URL into what a socket and a request line want, and form-encode a body.

/// An endpoint: where to connect, and what to put in the request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// For the socket and TLS name: no brackets around an IPv6 address.
    pub host: String,
    pub port: u16,
    /// The `Host:` header: as written in the URL.
    pub authority: String,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl Url {
    /// Parses `https://host[:port]/path?query` (or `http://`); no user info.
    pub fn parse(s: &str) -> Result<Url, String> {
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{s:?} is not an https:// URL"));
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{s:?} has no usable host"));
        }
        if target.contains(|c: char| c.is_whitespace() || c.is_control()) || target.contains('#') {
            return Err(format!("{s:?} has spaces or a fragment in its path"));
        }
        let default = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: unclosed [ in the host"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p, s)?,
                None if after.is_empty() => default,
                None => return Err(format!("{s:?}: junk after the host")),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), parse_port(p, s)?),
                None => (authority.to_owned(), default),
            }
        };
        if host.is_empty() {
            return Err(format!("{s:?} has no host"));
        }
        Ok(Url {
            https,
            host,
            port,
            authority: authority.to_owned(),
            target,
        })
    }

    /// Tokens travel over TLS; plain http only to this machine (tests, a
    /// local broker).
    pub fn check_transport(&self) -> Result<(), String> {
        if self.https || crate::config::is_loopback(&self.host) {
            Ok(())
        } else {
            Err(format!(
                "http:// sends tokens in clear text and is only allowed to a loopback host, not {:?}; use https://",
                self.host
            ))
        }
    }
}

fn parse_port(p: &str, s: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?}: {p:?} is not a port")),
    }
}

/// `application/x-www-form-urlencoded` (the body of every token request).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, k);
        out.push('=');
        encode_into(&mut out, v);
    }
    out
}

fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_socket_and_request_line() {
        for (s, want) in [
            (
                "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                Some((
                    true,
                    "login.microsoftonline.com",
                    443,
                    "/common/oauth2/v2.0/token",
                )),
            ),
            (
                "http://127.0.0.1:8080/token",
                Some((false, "127.0.0.1", 8080, "/token")),
            ),
            ("https://[::1]:9/t?a=b", Some((true, "::1", 9, "/t?a=b"))),
            (
                "https://oauth2.googleapis.com",
                Some((true, "oauth2.googleapis.com", 443, "/")),
            ),
            ("https://h?x=1", Some((true, "h", 443, "/?x=1"))),
            ("ftp://h/x", None),
            ("https://user@h/x", None),
            ("https://h:0/x", None),
            ("https://h:99999/x", None),
            ("https:///x", None),
            ("https://h/a b", None),
        ] {
            let got = Url::parse(s)
                .ok()
                .map(|u| (u.https, u.host.clone(), u.port, u.target.clone()));
            let want = want.map(|(a, b, c, d)| (a, b.to_owned(), c, d.to_owned()));
            assert_eq!(got, want, "{s}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for (s, ok) in [
            ("http://127.0.0.1:1/t", true),
            ("http://localhost/t", true),
            ("http://[::1]/t", true),
            ("http://login.example.test/t", false),
            ("https://login.example.test/t", true),
        ] {
            let u = Url::parse(s).expect(s);
            assert_eq!(u.check_transport().is_ok(), ok, "{s}");
        }
    }

    #[test]
    fn form_bodies_escape_everything_but_the_unreserved() {
        assert_eq!(
            form_encode(&[
                ("scope", "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"),
                ("x", "a&b=c+d%"),
            ]),
            "scope=https%3A%2F%2Foutlook.office.com%2FIMAP.AccessAsUser.All+offline_access&x=a%26b%3Dc%2Bd%25"
        );
    }
}
