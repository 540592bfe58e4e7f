//! Loops, bounces, auto-replies (placeholder until the corpus-checked version lands).

use super::report::DeliveryReport;
use mail_parser::HeaderName;

#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub from: Option<String>,
    pub auto_submitted: Option<String>,
    pub own_loop: Option<String>,
    pub report: Option<DeliveryReport>,
}

impl Signals {
    pub fn from_message(msg: &mail_parser::Message<'_>) -> Signals {
        let text = |n: &str| {
            msg.header(HeaderName::Other(n.into()))
                .and_then(|v| v.as_text())
                .map(str::to_owned)
        };
        Signals {
            from: msg
                .from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(|a| a.to_ascii_lowercase()),
            auto_submitted: text("Auto-Submitted"),
            own_loop: text("X-Ticketd-Loop"),
            report: super::report::delivery_report(msg),
        }
    }
}

pub struct ClassifyContext<'a> {
    pub own_addresses: &'a [String],
    pub loop_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    Normal,
    Loop,
    OwnMail,
    Bounce(DeliveryReport),
    AutoReply,
    Report(DeliveryReport),
    Bulk,
}

impl Classification {
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Classification::Normal => None,
            Classification::Loop => Some("loop"),
            Classification::OwnMail => Some("own_mail"),
            Classification::Bounce(_) => Some("bounce"),
            Classification::AutoReply => Some("auto_reply"),
            Classification::Report(_) => Some("report"),
            Classification::Bulk => Some("bulk"),
        }
    }
}

pub fn classify(s: &Signals, ctx: &ClassifyContext<'_>) -> Classification {
    if s.own_loop.as_deref() == Some(ctx.loop_id) {
        return Classification::Loop;
    }
    if let Some(f) = &s.from {
        if ctx.own_addresses.iter().any(|a| a == f) {
            return Classification::OwnMail;
        }
    }
    if s.auto_submitted
        .as_deref()
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"))
    {
        return Classification::AutoReply;
    }
    Classification::Normal
}
