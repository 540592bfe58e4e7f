//! Whether a mail proved its sender (DESIGN §3 "Trust"). A `From` header is
//! a claim anyone can write; only two things prove it: the mail went to the
//! From address's *personal* reply address (a key only that address was
//! mailed), or the receiving MTA the operator trusts says DMARC or DKIM
//! passed for the From domain. Privileges (agent commands and relays, an
//! admin's reach, added watchers) are granted on this verdict alone.

use super::address::{Addressing, ReplyAddress};
use super::authres::{self, Verdict};
use super::message::{InboundMessage, Mailbox};
use super::model::{email_domain, Source};

/// What proved the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Sent to the personal reply address ticketd gave this address.
    PersonalAddress,
    /// The trusted MTA's `Authentication-Results`.
    AuthResults {
        authserv_id: String,
        method: String,
        domain: String,
    },
    /// Not mail: the web portal or the console, where the person signed in.
    SignedIn,
}

/// Why a mail is not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doubt {
    /// From names several addresses: whose claim would it be?
    SeveralFrom(usize),
    /// The display name claims the desk or an agent for another address.
    ImpersonatingName(String),
    /// The trusted MTA looked and did not confirm the From domain.
    NotProved { authserv_id: String, detail: String },
    /// Neither a personal address nor a trusted header.
    NoProof,
}

/// The verdict on one mail's sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification(pub Result<Proof, Doubt>);

impl Verification {
    pub fn verified(&self) -> bool {
        self.0.is_ok()
    }

    /// A web or console action: the person is signed in.
    pub fn signed_in() -> Verification {
        Verification(Ok(Proof::SignedIn))
    }

    /// One line for `explain` and the event log.
    pub fn describe(&self) -> String {
        match &self.0 {
            Ok(Proof::PersonalAddress) => "verified: personal reply address".into(),
            Ok(Proof::AuthResults {
                authserv_id,
                method,
                domain,
            }) => format!("verified: {method}=pass for {domain} reported by {authserv_id}"),
            Ok(Proof::SignedIn) => "verified: signed in".into(),
            Err(Doubt::SeveralFrom(n)) => {
                format!("unverified: From names {n} addresses, so it proves none of them")
            }
            Err(Doubt::ImpersonatingName(name)) => format!(
                "unverified: the display name {name:?} claims the support desk or an agent for another address"
            ),
            Err(Doubt::NotProved {
                authserv_id,
                detail,
            }) => format!(
                "unverified: no personal address, and the trusted {authserv_id} did not confirm the sender ({detail})"
            ),
            Err(Doubt::NoProof) => {
                "unverified: no personal address, no trusted Authentication-Results".into()
            }
        }
    }
}

/// Who the desk is, as impersonation checks need it.
#[derive(Debug, Clone, Copy)]
pub struct Desk<'a> {
    pub addressing: &'a Addressing,
    pub support_name: &'a str,
    pub agents: &'a [String],
    /// `support.trusted_authserv_ids`.
    pub trusted_authserv_ids: &'a [String],
}

/// The verdict on `msg`'s From address. A message from the portal or the
/// console was written by a signed-in person: that proved who they are.
pub fn verify(msg: &InboundMessage<'_>, desk: &Desk<'_>) -> Verification {
    if msg.source != Source::Email {
        return Verification::signed_in();
    }
    let Some(from) = &msg.from else {
        return Verification(Err(Doubt::NoProof));
    };
    if msg.from_count > 1 {
        return Verification(Err(Doubt::SeveralFrom(msg.from_count)));
    }
    if let Some(name) = from
        .name
        .as_deref()
        .filter(|n| impersonates(n, &from.email, desk))
    {
        return Verification(Err(Doubt::ImpersonatingName(name.to_owned())));
    }
    let personal = msg.recipients().any(|r| {
        matches!(
            desk.addressing.parse_any_reply_address(r),
            Some(ReplyAddress::Personal { ticket, key })
                if desk.addressing.is_personal_key(ticket, &key, &from.email)
        )
    });
    if personal {
        return Verification(Ok(Proof::PersonalAddress));
    }
    let domain = email_domain(&from.email).unwrap_or("");
    let headers: Vec<&str> = msg.auth_results.iter().map(String::as_str).collect();
    match authres::verdict(&headers, desk.trusted_authserv_ids, domain) {
        Verdict::Pass {
            authserv_id,
            method,
            domain,
        } => Verification(Ok(Proof::AuthResults {
            authserv_id,
            method,
            domain,
        })),
        Verdict::NotProved {
            authserv_id,
            detail,
        } => Verification(Err(Doubt::NotProved {
            authserv_id,
            detail,
        })),
        Verdict::NoTrustedHeader => Verification(Err(Doubt::NoProof)),
    }
}

/// Whether a display name claims the desk (its name or one of its
/// addresses) or an agent's address, for an address that is not that one.
pub fn impersonates(name: &str, email: &str, desk: &Desk<'_>) -> bool {
    let lower = name.to_lowercase();
    let support = desk.support_name.trim().to_lowercase();
    if support.chars().count() >= 3 && lower.contains(&support) && !desk.addressing.is_ours(email) {
        return true;
    }
    lower
        .split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '<' | '>' | '"' | '\'' | '(' | ')' | ',' | ';' | '[' | ']'
                )
        })
        .filter(|w| w.contains('@'))
        .any(|w| w != email && (desk.addressing.is_ours(w) || desk.agents.iter().any(|a| a == w)))
}

/// How an author is named in mail customers and agents read: "Name
/// <address>", or the address alone when the name would impersonate the
/// desk or an agent (DESIGN §3).
pub fn shown_author(author: &Mailbox, desk: &Desk<'_>) -> String {
    match author.name.as_deref() {
        Some(n) if !n.trim().is_empty() && !impersonates(n, &author.email, desk) => {
            format!("{} <{}>", n.trim(), author.email)
        }
        _ => author.email.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::TicketId;

    fn addressing() -> Addressing {
        Addressing::new("support@example.test", &[], b"k".to_vec())
    }

    fn mb(email: &str, name: Option<&str>) -> Mailbox {
        Mailbox {
            email: email.into(),
            name: name.map(str::to_owned),
        }
    }

    fn check(msg: &InboundMessage<'_>, trusted: &[String]) -> Verification {
        let a = addressing();
        let agents = vec!["agent@example.test".to_string()];
        verify(
            msg,
            &Desk {
                addressing: &a,
                support_name: "Example Support",
                agents: &agents,
                trusted_authserv_ids: trusted,
            },
        )
    }

    fn mail(from: Mailbox) -> InboundMessage<'static> {
        InboundMessage {
            from: Some(from),
            from_count: 1,
            to: vec![mb("support@example.test", None)],
            ..Default::default()
        }
    }

    #[test]
    fn a_personal_reply_address_verifies_only_its_own_recipient() {
        let a = addressing();
        let mut m = mail(mb("agent@example.test", None));
        m.to = vec![mb(
            &a.personal_address(TicketId(1), "agent@example.test"),
            None,
        )];
        assert_eq!(check(&m, &[]).0, Ok(Proof::PersonalAddress));
        // The same address, From someone else: a forward, or a forger.
        m.from = Some(mb("mallory@evil.example", None));
        assert_eq!(check(&m, &[]).0, Err(Doubt::NoProof));
        // The per-ticket address only threads.
        let mut m = mail(mb("agent@example.test", None));
        m.to = vec![mb(&a.reply_address(TicketId(1)), None)];
        assert_eq!(check(&m, &[]).0, Err(Doubt::NoProof));
    }

    #[test]
    fn a_signed_in_person_is_verified_and_mail_never_is_by_claiming_it() {
        let mut m = mail(mb("ann@acme.test", None));
        m.source = Source::Web;
        assert_eq!(check(&m, &[]).0, Ok(Proof::SignedIn));
        m.source = Source::Console;
        assert!(check(&m, &[]).verified());
        m.source = Source::default();
        assert_eq!(check(&m, &[]).0, Err(Doubt::NoProof), "mail is mail");
    }

    #[test]
    fn a_plain_from_proves_nothing() {
        let v = check(&mail(mb("agent@example.test", None)), &[]);
        assert!(!v.verified());
        assert_eq!(
            v.describe(),
            "unverified: no personal address, no trusted Authentication-Results"
        );
    }

    #[test]
    fn several_from_addresses_or_a_claiming_name_are_never_verified() {
        let a = addressing();
        let mut m = mail(mb("agent@example.test", None));
        m.to = vec![mb(
            &a.personal_address(TicketId(1), "agent@example.test"),
            None,
        )];
        m.from_count = 2;
        assert_eq!(check(&m, &[]).0, Err(Doubt::SeveralFrom(2)));
        for name in [
            "agent@example.test",
            "\"agent@example.test\"",
            "Example Support",
            "EXAMPLE SUPPORT team",
            "support@example.test via x",
        ] {
            let m = mail(mb("mallory@evil.example", Some(name)));
            assert!(
                matches!(check(&m, &[]).0, Err(Doubt::ImpersonatingName(_))),
                "{name}"
            );
        }
        // An agent's own address in its own name is no claim.
        let mut m = mail(mb("agent@example.test", Some("agent@example.test")));
        m.to = vec![mb(
            &a.personal_address(TicketId(1), "agent@example.test"),
            None,
        )];
        assert!(check(&m, &[]).verified());
    }

    #[test]
    fn the_trusted_mta_verifies_by_dmarc_or_dkim_and_no_one_else_does() {
        let trusted = vec!["mx.example.test".to_string()];
        let mut m = mail(mb("ann@acme.test", None));
        m.auth_results = vec!["mx.example.test; dmarc=pass header.from=acme.test".into()];
        assert!(check(&m, &trusted).verified());
        assert!(!check(&m, &[]).verified(), "nothing trusted");
        m.auth_results = vec!["mx.evil.example; dmarc=pass header.from=acme.test".into()];
        assert_eq!(check(&m, &trusted).0, Err(Doubt::NoProof));
        m.auth_results = vec!["mx.example.test; dkim=fail header.d=acme.test".into()];
        assert!(matches!(
            check(&m, &trusted).0,
            Err(Doubt::NotProved { .. })
        ));
    }

    #[test]
    fn shown_authors_name_the_address_and_never_the_desk() {
        let a = addressing();
        let agents = vec!["agent@example.test".to_string()];
        let desk = Desk {
            addressing: &a,
            support_name: "Example Support",
            agents: &agents,
            trusted_authserv_ids: &[],
        };
        for (name, email, shown) in [
            (
                Some("Ann Smith"),
                "ann@acme.test",
                "Ann Smith <ann@acme.test>",
            ),
            (None, "ann@acme.test", "ann@acme.test"),
            (
                Some("agent@example.test"),
                "mallory@evil.example",
                "mallory@evil.example",
            ),
            (
                Some("Example Support"),
                "mallory@evil.example",
                "mallory@evil.example",
            ),
        ] {
            assert_eq!(shown_author(&mb(email, name), &desk), shown);
        }
    }
}
