//! The SASL messages that carry a bearer token, for IMAP and SMTP alike
//! (before base64): Google's and Microsoft's XOAUTH2, and OAUTHBEARER
//! (RFC 7628) for servers that only speak the standard one.

/// `user=…^Aauth=Bearer …^A^A`.
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// `n,a=…,^Aauth=Bearer …^A^A` (RFC 7628 §3.1; `,` and `=` in the
/// authorization identity escaped as RFC 5801 says).
pub fn oauthbearer(user: &str, token: &str) -> String {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01auth=Bearer {token}\x01\x01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_messages_match_the_specifications() {
        assert_eq!(
            xoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        // RFC 7628 §4.1, without the optional host and port.
        assert_eq!(
            oauthbearer("user@example.com", "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="),
            "n,a=user@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert_eq!(
            oauthbearer("a,b=c", "t"),
            "n,a=a=2Cb=3Dc,\x01auth=Bearer t\x01\x01"
        );
    }
}
