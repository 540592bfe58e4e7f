//! The ticket tag in subjects (`[#123]` by default, configurable): found in
//! incoming subjects (threading rule 3), put on outgoing ones, and removed
//! from the subject a ticket keeps.

use regex::Regex;

use super::model::TicketId;

#[derive(Debug, Clone)]
pub struct TicketTag {
    prefix: String,
    suffix: String,
    find: Regex,
    reply_prefix: Regex,
}

impl TicketTag {
    /// `template` holds `{id}` exactly once (checked by the config).
    pub fn new(template: &str) -> Result<TicketTag, regex::Error> {
        let (prefix, suffix) = template.split_once("{id}").unwrap_or((template, ""));
        let find = Regex::new(&format!(
            r"(?i){}\s*(\d{{1,15}})\s*{}",
            regex::escape(prefix.trim_end()),
            regex::escape(suffix.trim_start())
        ))?;
        // Reply prefixes of the common mail clients and languages. Forward
        // prefixes (Fwd:, WG:, TR:, RV:, ENC:) stay: that a customer forwarded
        // something is worth seeing in the ticket list.
        let reply_prefix =
            Regex::new(r"(?i)^\s*((re|aw|sv|vs|antw|ref|réf|odp|res|r)(\[\d+\])?\s*:\s*)+")?;
        Ok(TicketTag {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            find,
            reply_prefix,
        })
    }

    pub fn format(&self, id: TicketId) -> String {
        format!("{}{}{}", self.prefix, id.0, self.suffix)
    }

    /// The first ticket number tagged in `subject`.
    pub fn find(&self, subject: &str) -> Option<TicketId> {
        let caps = self.find.captures(subject)?;
        caps.get(1)?.as_str().parse().ok().map(TicketId)
    }

    /// The subject a ticket keeps: tags and leading reply prefixes removed.
    pub fn clean_subject(&self, subject: &str) -> String {
        let untagged = self.find.replace_all(subject, " ");
        let mut s = self
            .reply_prefix
            .replace(untagged.trim(), "")
            .trim()
            .to_owned();
        // "Re: [#5] Re: x": prefixes may sit on both sides of the tag.
        while let Some(stripped) = self
            .reply_prefix
            .find(&s)
            .map(|m| s[m.end()..].trim().to_owned())
        {
            if stripped == s {
                break;
            }
            s = stripped;
        }
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            "(no subject)".to_owned()
        } else {
            s
        }
    }

    /// An outgoing subject: the tag, then the ticket's subject.
    pub fn tagged(&self, id: TicketId, subject: &str) -> String {
        format!("{} {}", self.format(id), subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_strips_the_default_tag() {
        let t = TicketTag::new("[#{id}]").expect("valid");
        let cases = [
            ("Re: [#12] Printer on fire", Some(12), "Printer on fire"),
            ("AW: Re: [#7]   Drucker", Some(7), "Drucker"),
            ("Re: [#7] Re: again", Some(7), "again"),
            ("Printer on fire", None, "Printer on fire"),
            ("Order #12 missing", None, "Order #12 missing"),
            ("Re:", None, "(no subject)"),
            ("Reply needed", None, "Reply needed"),
            ("Fwd: Invoice", None, "Fwd: Invoice"),
            ("Re: [#4] Fwd: Invoice", Some(4), "Fwd: Invoice"),
        ];
        for (subject, id, clean) in cases {
            assert_eq!(t.find(subject), id.map(TicketId), "{subject}");
            assert_eq!(t.clean_subject(subject), clean, "{subject}");
        }
        assert_eq!(t.tagged(TicketId(3), "x"), "[#3] x");
    }

    #[test]
    fn custom_tags_work() {
        let t = TicketTag::new("[Example #{id}]").expect("valid");
        assert_eq!(t.find("Re: [Example #99] hi"), Some(TicketId(99)));
        assert_eq!(t.find("Re: [#99] hi"), None);
        assert_eq!(t.format(TicketId(5)), "[Example #5]");
    }
}
