//! Cross-site requests (DESIGN §8). Every state change is a POST, and every
//! POST must come from the portal's own pages: the browser's
//! `Sec-Fetch-Site` says so (`same-origin`, or `none` for a typed URL), or,
//! from browsers that do not send it, `Origin` equals the portal's. On top
//! of that, a signed-in form carries the session's form token
//! ([`super::extract::SignedIn::check_form`]).

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::WebError;

/// Refuses a state-changing request from another site.
pub async fn check_origin(State(web): State<super::State>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let h = req.headers();
    let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = h.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match same_site(fetch_site, origin, &web.site.origin) {
        Ok(()) => next.run(req).await,
        Err(why) => {
            tracing::warn!(path = %req.uri().path(), why, "cross-site request refused");
            WebError::Forbidden(why).into_response()
        }
    }
}

/// The decision, apart from the HTTP plumbing.
pub fn same_site(
    fetch_site: Option<&str>,
    origin: Option<&str>,
    portal_origin: &str,
) -> Result<(), &'static str> {
    match fetch_site {
        Some("same-origin" | "none") => Ok(()),
        Some(_) => Err("this form was sent from another site; open the page on the portal and send it from there"),
        None => match origin {
            Some(o) if o.trim_end_matches('/').eq_ignore_ascii_case(portal_origin) => Ok(()),
            Some(_) => Err("this form was sent from another site; open the page on the portal and send it from there"),
            None => Err("your browser did not say where this form came from; please use a current browser"),
        },
    }
}

/// Equal strings, compared without an early exit.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_portals_own_pages_may_post() {
        let me = "https://support.example.test";
        for (site, origin, ok) in [
            (Some("same-origin"), None, true),
            (Some("none"), None, true),
            (Some("cross-site"), Some(me), false),
            (Some("same-site"), None, false),
            (None, Some(me), true),
            (None, Some("https://support.example.test/"), true),
            (None, Some("https://evil.example"), false),
            (None, Some("null"), false),
            (None, None, false),
        ] {
            assert_eq!(
                same_site(site, origin, me).is_ok(),
                ok,
                "{site:?} {origin:?}"
            );
        }
    }

    #[test]
    fn form_tokens_compare_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match("abc", "abcd"));
    }
}
