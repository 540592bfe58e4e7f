//! What the token and device endpoints answer, read into types (RFC 6749
//! §5, RFC 8628 §3.2). Pure: status and body in, a decision out.

use std::time::Duration;

use serde_json::Value;

use crate::config::Secret;

/// A successful token response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: Secret,
    /// `None`: the provider did not say.
    pub expires_in: Option<Duration>,
    /// A new refresh token: the provider rotated it (or issued the first).
    pub refresh_token: Option<Secret>,
}

/// How an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<T> {
    Ok(T),
    /// An OAuth2 error object: `error` and `error_description`.
    Error {
        status: u16,
        code: String,
        description: Option<String>,
    },
    /// Neither: an HTML error page, a proxy's 502, garbage.
    Garbled {
        status: u16,
        reason: String,
    },
}

/// A device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_code: Secret,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: Duration,
    /// Seconds between polls; 5 when the server does not say (§3.2).
    pub interval: Duration,
    /// The provider's own instructions (Microsoft sends one), if any.
    pub message: Option<String>,
}

/// Reads a token endpoint's answer.
pub fn token_answer(status: u16, body: &[u8]) -> Answer<Tokens> {
    read(status, body, |o| {
        let access = o.get("access_token").and_then(Value::as_str)?;
        Some(Tokens {
            access_token: Secret(access.to_owned()),
            expires_in: seconds(o.get("expires_in")).map(Duration::from_secs),
            refresh_token: o
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| Secret(s.to_owned())),
        })
    })
}

/// Reads a device authorization endpoint's answer. Google says
/// `verification_url` where the RFC says `verification_uri`.
pub fn device_answer(status: u16, body: &[u8]) -> Answer<DeviceCode> {
    read(status, body, |o| {
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(DeviceCode {
            device_code: Secret(text("device_code")?),
            user_code: text("user_code")?,
            verification_uri: text("verification_uri").or_else(|| text("verification_url"))?,
            verification_uri_complete: text("verification_uri_complete"),
            expires_in: Duration::from_secs(seconds(o.get("expires_in")).unwrap_or(900)),
            interval: Duration::from_secs(seconds(o.get("interval")).unwrap_or(5).max(1)),
            message: text("message"),
        })
    })
}

fn read<T>(
    status: u16,
    body: &[u8],
    ok: impl Fn(&serde_json::Map<String, Value>) -> Option<T>,
) -> Answer<T> {
    let garbled = |reason: &str| Answer::Garbled {
        status,
        reason: reason.to_owned(),
    };
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return garbled(&format!("HTTP {status} without a JSON object"));
    };
    if let Some(code) = o.get("error").and_then(Value::as_str) {
        return Answer::Error {
            status,
            code: code.to_owned(),
            description: o
                .get("error_description")
                .and_then(Value::as_str)
                .map(|d| d.chars().take(300).collect()),
        };
    }
    if !(200..300).contains(&status) {
        return garbled(&format!("HTTP {status} without an OAuth2 error"));
    }
    match ok(&o) {
        Some(v) => Answer::Ok(v),
        None => garbled("a JSON object without the expected fields"),
    }
}

/// `expires_in` and `interval`: a number, or (some providers) a string of one.
fn seconds(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether an error code means the grant itself is bad (sign in again),
/// as opposed to the provider being in trouble (retry soon).
pub fn needs_operator(status: u16, code: &str) -> bool {
    !(status >= 500 || matches!(code, "temporarily_unavailable" | "server_error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_as_tokens_errors_or_garble() {
        let t = |access: &str, exp: Option<u64>, refresh: Option<&str>| {
            Answer::Ok(Tokens {
                access_token: Secret(access.into()),
                expires_in: exp.map(Duration::from_secs),
                refresh_token: refresh.map(|r| Secret(r.into())),
            })
        };
        let err = |status, code: &str, d: Option<&str>| Answer::Error {
            status,
            code: code.into(),
            description: d.map(str::to_owned),
        };
        for (status, body, want) in [
            (
                200,
                r#"{"access_token":"a1","token_type":"Bearer","expires_in":3599,"refresh_token":"r2"}"#,
                t("a1", Some(3599), Some("r2")),
            ),
            (
                200,
                r#"{"access_token":"a1","expires_in":"60"}"#,
                t("a1", Some(60), None),
            ),
            (
                200,
                r#"{"access_token":"a1","refresh_token":""}"#,
                t("a1", None, None),
            ),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS70008: expired"}"#,
                err(400, "invalid_grant", Some("AADSTS70008: expired")),
            ),
            (
                200,
                r#"{"error":"authorization_pending"}"#,
                err(200, "authorization_pending", None),
            ),
        ] {
            assert_eq!(token_answer(status, body.as_bytes()), want, "{body}");
        }
        for (status, body) in [
            (502, "<html>Bad gateway</html>"),
            (200, r#"{"token":"x"}"#),
            (404, r#"{"detail":"not found"}"#),
            (200, "[]"),
        ] {
            assert!(
                matches!(
                    token_answer(status, body.as_bytes()),
                    Answer::Garbled { .. }
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn device_answers_take_the_rfc_and_the_google_spelling() {
        for body in [
            r#"{"device_code":"d","user_code":"ABCD-EFGH","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in…"}"#,
            r#"{"device_code":"d","user_code":"ABCD-EFGH","verification_url":"https://microsoft.com/devicelogin","expires_in":"900"}"#,
        ] {
            let Answer::Ok(d) = device_answer(200, body.as_bytes()) else {
                panic!("{body}")
            };
            assert_eq!(d.user_code, "ABCD-EFGH");
            assert_eq!(d.verification_uri, "https://microsoft.com/devicelogin");
            assert_eq!(d.interval, Duration::from_secs(5));
            assert_eq!(d.expires_in, Duration::from_secs(900));
        }
    }

    #[test]
    fn only_server_trouble_is_worth_a_quick_retry() {
        for (status, code, operator) in [
            (400, "invalid_grant", true),
            (401, "invalid_client", true),
            (400, "invalid_scope", true),
            (503, "temporarily_unavailable", false),
            (500, "server_error", false),
            (502, "", false),
        ] {
            assert_eq!(needs_operator(status, code), operator, "{status} {code}");
        }
    }
}
