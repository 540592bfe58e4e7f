//! Which addresses are "us", and the per-ticket reply address
//! `support+<id>-<mac>@domain`, whose MAC (HMAC-SHA256 of the id under a
//! secret kept in the database) proves the sender saw a ticketd mail.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::model::TicketId;

/// Hex digits of the MAC kept in a reply address (48 bits: unguessable
/// enough, short enough for a mail client's To line).
const MAC_HEX: usize = 12;

#[derive(Clone)]
pub struct Addressing {
    /// Support address first, then aliases; all lower-cased.
    own: Vec<String>,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Addressing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addressing")
            .field("own", &self.own)
            .finish_non_exhaustive()
    }
}

impl Addressing {
    pub fn new(support: &str, aliases: &[String], secret: Vec<u8>) -> Addressing {
        let mut own = vec![support.to_ascii_lowercase()];
        own.extend(aliases.iter().map(|a| a.to_ascii_lowercase()));
        Addressing { own, secret }
    }

    /// The support address and its aliases.
    pub fn own_addresses(&self) -> &[String] {
        &self.own
    }

    /// The support address itself.
    pub fn support(&self) -> &str {
        &self.own[0]
    }

    /// Whether `email` is the support address, an alias, or a plus-variant of one.
    pub fn is_ours(&self, email: &str) -> bool {
        let email = email.to_ascii_lowercase();
        self.own
            .iter()
            .any(|own| own == &email || base_of_plus(&email).is_some_and(|b| &b == own))
    }

    /// The reply address of a ticket, on the support address's domain.
    pub fn reply_address(&self, ticket: TicketId) -> String {
        let (local, domain) = self
            .support()
            .split_once('@')
            .unwrap_or((self.support(), ""));
        format!("{local}+{}-{}@{domain}", ticket.0, self.mac(ticket))
    }

    /// The ticket a reply address names, if its MAC is right.
    pub fn parse_reply_address(&self, email: &str) -> Option<TicketId> {
        let email = email.to_ascii_lowercase();
        let (local, domain) = email.split_once('@')?;
        let (base, tag) = local.split_once('+')?;
        let base_addr = format!("{base}@{domain}");
        if !self.own.contains(&base_addr) {
            return None;
        }
        let (id, mac) = tag.split_once('-')?;
        let id: i64 = id.parse().ok().filter(|n| *n > 0)?;
        let ticket = TicketId(id);
        let want = self.mac(ticket);
        // Compare in constant time: the MAC is the proof.
        (mac.len() == want.len()
            && mac
                .bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0)
            .then_some(ticket)
    }

    fn mac(&self, ticket: TicketId) -> String {
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return String::new(); // unreachable: HMAC takes keys of any length
        };
        m.update(ticket.0.to_string().as_bytes());
        let bytes = m.finalize().into_bytes();
        bytes
            .iter()
            .take(MAC_HEX / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// `local+tag@domain` → `local@domain`.
fn base_of_plus(email: &str) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    let (base, _) = local.split_once('+')?;
    Some(format!("{base}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> Addressing {
        Addressing::new(
            "support@example.test",
            &["help@example.test".into()],
            b"k".to_vec(),
        )
    }

    #[test]
    fn own_addresses_include_aliases_and_plus_variants() {
        let a = us();
        for (email, ours) in [
            ("support@example.test", true),
            ("SUPPORT@example.test", true),
            ("help@example.test", true),
            ("support+7-abc@example.test", true),
            ("help+x@example.test", true),
            ("support2@example.test", false),
            ("support@example.test.evil", false),
            ("ann@example.test", false),
        ] {
            assert_eq!(a.is_ours(email), ours, "{email}");
        }
    }

    #[test]
    fn reply_address_round_trips_and_a_forged_mac_fails() {
        let a = us();
        let addr = a.reply_address(TicketId(42));
        assert!(
            addr.starts_with("support+42-") && addr.ends_with("@example.test"),
            "{addr}"
        );
        assert_eq!(a.parse_reply_address(&addr), Some(TicketId(42)));
        assert_eq!(
            a.parse_reply_address(&addr.to_uppercase()),
            Some(TicketId(42))
        );
        let forged = addr.replace("support+42-", "support+43-");
        assert_eq!(a.parse_reply_address(&forged), None);
        assert_eq!(a.parse_reply_address("support+42@example.test"), None);
        let other_key = Addressing::new("support@example.test", &[], b"other".to_vec());
        assert_eq!(other_key.parse_reply_address(&addr), None);
    }
}
