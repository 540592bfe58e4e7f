//! Which addresses are "us", and the reply addresses of a ticket (DESIGN §3):
//! the per-ticket `support+<id>-<mac>@domain` (HMAC of the id: proves the
//! sender saw a ticketd mail, threads, proves nothing about who wrote) and
//! the personal `support+<id>-<key>@domain` every notification carries
//! (HMAC of the id *and* its recipient's address: a reply from that address
//! to it is verified). Both under the secret kept in the database.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::model::TicketId;

/// Hex digits of the per-ticket MAC (48 bits: it only threads).
const MAC_HEX: usize = 12;
/// Hex digits of a personal key (64 bits: it is a proof of who wrote, and
/// an attacker may try keys by mail, each try a mail the desk sees).
const KEY_HEX: usize = 16;

/// What the `+<id>-<mac>` part of an address to us claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyAddress {
    /// The per-ticket form, its MAC checked: threads (rule 2), proves no sender.
    Ticket(TicketId),
    /// The personal form: which recipient it was made for is only known by
    /// trying the ticket's people ([`Addressing::personal_key_owner`]).
    Personal { ticket: TicketId, key: String },
}

impl ReplyAddress {
    pub fn ticket(&self) -> TicketId {
        match self {
            ReplyAddress::Ticket(t) | ReplyAddress::Personal { ticket: t, .. } => *t,
        }
    }
}

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

    /// `recipient`'s personal reply address for a ticket: a reply from
    /// `recipient` to it proves the sender (DESIGN §3 "Trust").
    pub fn personal_address(&self, ticket: TicketId, recipient: &str) -> String {
        let (local, domain) = self
            .support()
            .split_once('@')
            .unwrap_or((self.support(), ""));
        format!(
            "{local}+{}-{}@{domain}",
            ticket.0,
            self.key(ticket, recipient)
        )
    }

    /// The ticket the per-ticket reply address names, if its MAC is right.
    pub fn parse_reply_address(&self, email: &str) -> Option<TicketId> {
        match self.parse_any_reply_address(email)? {
            ReplyAddress::Ticket(t) => Some(t),
            ReplyAddress::Personal { .. } => None,
        }
    }

    /// What a `support+<id>-<mac>` address claims: the per-ticket form with
    /// its MAC checked, or a personal key still to be matched to a person.
    pub fn parse_any_reply_address(&self, email: &str) -> Option<ReplyAddress> {
        let email = email.to_ascii_lowercase();
        let (local, domain) = email.split_once('@')?;
        let (base, tag) = local.split_once('+')?;
        if !self
            .own
            .iter()
            .any(|o| o.split_once('@') == Some((base, domain)))
        {
            return None;
        }
        let (id, mac) = tag.split_once('-')?;
        let id: i64 = id.parse().ok().filter(|n| *n > 0)?;
        let ticket = TicketId(id);
        match mac.len() {
            MAC_HEX => {
                constant_time_eq(mac, &self.mac(ticket)).then_some(ReplyAddress::Ticket(ticket))
            }
            KEY_HEX if mac.bytes().all(|b| b.is_ascii_hexdigit()) => Some(ReplyAddress::Personal {
                ticket,
                key: mac.to_owned(),
            }),
            _ => None,
        }
    }

    /// Whether `key` is `person`'s personal key for `ticket` (constant time;
    /// the address is compared case-insensitively).
    pub fn is_personal_key(&self, ticket: TicketId, key: &str, person: &str) -> bool {
        constant_time_eq(&key.to_ascii_lowercase(), &self.key(ticket, person))
    }

    /// Which of `people` a personal key was made for, if any.
    pub fn personal_key_owner<'p>(
        &self,
        ticket: TicketId,
        key: &str,
        people: impl IntoIterator<Item = &'p str>,
    ) -> Option<&'p str> {
        people
            .into_iter()
            .find(|p| self.is_personal_key(ticket, key, p))
    }

    fn mac(&self, ticket: TicketId) -> String {
        self.hmac_hex(&[ticket.0.to_string().as_bytes()], MAC_HEX)
    }

    fn key(&self, ticket: TicketId, recipient: &str) -> String {
        // "personal:" keeps a key from ever equalling a per-ticket MAC input.
        let recipient = recipient.trim().to_ascii_lowercase();
        self.hmac_hex(
            &[
                b"personal:",
                ticket.0.to_string().as_bytes(),
                b":",
                recipient.as_bytes(),
            ],
            KEY_HEX,
        )
    }

    fn hmac_hex(&self, parts: &[&[u8]], hex_digits: usize) -> String {
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return String::new(); // unreachable: HMAC takes keys of any length
        };
        for p in parts {
            m.update(p);
        }
        let bytes = m.finalize().into_bytes();
        bytes
            .iter()
            .take(hex_digits / 2)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Equal strings, compared without an early exit: the MAC is the proof.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !b.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The address a plus-address stands for (`ann+x@acme.test` →
/// `ann@acme.test`): throttles and mail budgets count per person, not per tag.
pub fn base_address(email: &str) -> String {
    base_of_plus(email).unwrap_or_else(|| email.to_owned())
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

    #[test]
    fn a_personal_key_belongs_to_one_recipient_of_one_ticket() {
        let a = us();
        let addr = a.personal_address(TicketId(42), "Ann@Acme.test");
        let Some(ReplyAddress::Personal { ticket, key }) = a.parse_any_reply_address(&addr) else {
            panic!("{addr} is not a personal address");
        };
        assert_eq!(ticket, TicketId(42));
        assert_eq!(key.len(), KEY_HEX, "64 bits");
        assert!(a.is_personal_key(ticket, &key, "ann@acme.test"));
        assert!(a.is_personal_key(ticket, &key.to_uppercase(), "ANN@ACME.TEST"));
        assert!(!a.is_personal_key(ticket, &key, "mallory@evil.example"));
        assert!(!a.is_personal_key(TicketId(43), &key, "ann@acme.test"));
        let people = ["bob@acme.test", "ann@acme.test"];
        assert_eq!(
            a.personal_key_owner(ticket, &key, people),
            Some("ann@acme.test")
        );
        let other_key = Addressing::new("support@example.test", &[], b"other".to_vec());
        assert!(!other_key.is_personal_key(ticket, &key, "ann@acme.test"));
        // The personal form never passes for the per-ticket one, and the
        // per-ticket MAC is no one's personal key.
        assert_eq!(a.parse_reply_address(&addr), None);
        let per_ticket = a.reply_address(TicketId(42));
        assert_eq!(
            a.parse_any_reply_address(&per_ticket),
            Some(ReplyAddress::Ticket(TicketId(42)))
        );
        for bad in [
            "support+42-zzzzzzzzzzzzzzzz@example.test",
            "support+42-0123@example.test",
            "other+42-0123456789abcdef@example.test",
        ] {
            assert_eq!(a.parse_any_reply_address(bad), None, "{bad}");
        }
    }
}
