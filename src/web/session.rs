//! Sessions (DESIGN §8): a random 256-bit token in an HttpOnly,
//! SameSite=Lax cookie (`Secure` and the `__Host-` prefix under https),
//! stored only as its SHA-256, made anew at every sign-in, ended by signing
//! out or a password change. Each session also has a form token that every
//! signed-in form carries.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::attachments::sha256_hex;
use crate::store::apply::random_hex;
use crate::store::StoreError;

/// The cookie's name: the `__Host-` prefix makes the browser refuse it
/// unless it is Secure, host-only and for `/`.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-ticketd"
    } else {
        "ticketd"
    }
}

/// A new session's secrets: the token for the cookie, its hash for the
/// database, and the form token.
pub struct NewSession {
    pub token: String,
    pub token_hash: String,
    pub form_token: String,
}

pub fn new_session() -> Result<NewSession, StoreError> {
    let token = random_hex(32)?;
    Ok(NewSession {
        token_hash: sha256_hex(token.as_bytes()),
        token,
        form_token: random_hex(16)?,
    })
}

/// The session token the request's cookie carries, if any.
pub fn token_from(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The hash a token is stored under.
pub fn hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// `Set-Cookie` for a new session, valid `days`.
pub fn set_cookie(token: &str, secure: bool, days: u32) -> HeaderValue {
    let secure_attr = if secure { "; Secure" } else { "" };
    let v = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure_attr}",
        cookie_name(secure),
        u64::from(days) * 86_400
    );
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure_attr = if secure { "; Secure" } else { "" };
    let v = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure_attr}",
        cookie_name(secure)
    );
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_only_http_only_and_lax() {
        let c = set_cookie("ab", true, 14);
        let c = c.to_str().expect("ascii");
        assert!(
            c.starts_with("__Host-ticketd=ab; Path=/; HttpOnly; SameSite=Lax"),
            "{c}"
        );
        assert!(c.ends_with("; Secure"), "{c}");
        assert!(!c.contains("Domain"), "{c}");
        let plain = set_cookie("ab", false, 1);
        assert!(plain.to_str().expect("ascii").starts_with("ticketd=ab;"));
        assert!(!plain.to_str().expect("ascii").contains("Secure"));
    }

    #[test]
    fn a_token_is_read_only_from_our_cookie_and_only_when_well_formed() {
        let token = "a".repeat(64);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; __Host-ticketd={token}")).expect("ascii"),
        );
        assert_eq!(token_from(&h, true), Some(token.clone()));
        assert_eq!(token_from(&h, false), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-ticketd=short"),
        );
        assert_eq!(token_from(&h, true), None);
        let s = new_session().expect("random");
        assert_eq!(s.token.len(), 64, "256 bits");
        assert_eq!(hash(&s.token), s.token_hash);
    }
}
