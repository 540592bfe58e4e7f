//! Percent-encoding (RFC 3986): everything but the unreserved characters,
//! byte by byte. One function for a query value in a link the desk writes
//! and for an attachment's RFC 5987 `filename*`.

/// `s` with every byte outside `A-Z a-z 0-9 - . _ ~` as `%XX`.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::encode("E 1042&x=é"), "E%201042%26x%3D%C3%A9");
    }
}
