//! Notifications: one text template file per kind
//! (`config/templates/<kind>.txt`, built in, overridable from
//! `support.templates_dir`), rendered by minijinja, and the facts the HTML
//! alternative is drawn from when the mail is sent
//! ([`html_body`](crate::delivery::html_body)). A template's first line is
//! `Subject: …`; the rest, after a blank line, is the body. Templates are
//! parsed once at start.

use std::path::Path;

use minijinja::Environment;
use serde::Serialize;

use crate::delivery::html_body;
use crate::domain::model::NotificationKind;

const BUILT_IN: &[(NotificationKind, &str)] = &[
    (
        NotificationKind::PasswordSetup,
        include_str!("../config/templates/password_setup.txt"),
    ),
    (
        NotificationKind::PasswordReset,
        include_str!("../config/templates/password_reset.txt"),
    ),
    (
        NotificationKind::TicketReceived,
        include_str!("../config/templates/ticket_received.txt"),
    ),
    (
        NotificationKind::TicketUpdated,
        include_str!("../config/templates/ticket_updated.txt"),
    ),
    (
        NotificationKind::AgentAlert,
        include_str!("../config/templates/agent_alert.txt"),
    ),
    (
        NotificationKind::UrgentPage,
        include_str!("../config/templates/urgent_page.txt"),
    ),
    (
        NotificationKind::Refused,
        include_str!("../config/templates/refused.txt"),
    ),
    (
        NotificationKind::TicketAssigned,
        include_str!("../config/templates/ticket_assigned.txt"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("template {name} is invalid: {source}")]
    Template {
        name: String,
        source: minijinja::Error,
    },
    #[error("template {name} must start with a \"Subject: ...\" line followed by a blank line")]
    NoSubject { name: String },
}

/// Ticket facts a template may show.
#[derive(Debug, Clone, Serialize)]
pub struct TicketView {
    pub id: i64,
    pub tag: String,
    pub subject: String,
    pub status: String,
    pub status_label: String,
    pub priority: String,
    pub category: Option<String>,
}

/// The message that caused the notification.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub author: String,
    pub text: String,
}

/// Everything any template may use; unused fields are simply absent.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NoteContext {
    pub support_name: String,
    pub support_address: String,
    pub portal_url: String,
    pub recipient: String,
    /// The ticket's page: the portal's for customers, the desk's for agents
    /// ([`ticket_url`]).
    pub ticket_url: Option<String>,
    pub marker: &'static str,
    pub ticket: Option<TicketView>,
    pub message: Option<MessageView>,
    /// For agents: why a mail was not taken as the agent's (unverified claim).
    pub warning: Option<String>,
    pub new_ticket: bool,
    pub internal: bool,
    pub setup_url: Option<String>,
    pub expires_hours: u32,
    /// The subject of a refused mail.
    pub subject: Option<String>,
    /// Who made the change a staff mail reports (an assignment).
    pub actor: Option<String>,
}

/// Where a notification about ticket `id` leads: `{portal_url}/tickets/ID`
/// for customers, `{portal_url}/desk/tickets/ID` for agents' alerts and pages.
pub fn ticket_url(portal_url: &str, id: i64, kind: NotificationKind) -> String {
    let base = portal_url.trim_end_matches('/');
    match kind {
        NotificationKind::AgentAlert
        | NotificationKind::UrgentPage
        | NotificationKind::TicketAssigned => {
            format!("{base}/desk/tickets/{id}")
        }
        _ => format!("{base}/tickets/{id}"),
    }
}

/// A rendered notification: a one-line subject, the text part, and the
/// facts its HTML alternative is drawn from when it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub layout: html_body::Facts,
}

impl Rendered {
    /// The HTML alternative, as the courier will draw it.
    pub fn html(&self) -> Result<String, html_body::DrawError> {
        html_body::draw(&self.layout, &self.subject, &self.text)
    }
}

pub struct Renderer {
    env: Environment<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

impl Renderer {
    /// Loads the built-in templates, replaced by `<dir>/<kind>.txt` where present.
    pub fn new(overrides: Option<&Path>) -> Result<Renderer, RenderError> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (kind, text) in BUILT_IN {
            let name = kind.as_str();
            let source = match overrides
                .map(|d| d.join(format!("{name}.txt")))
                .filter(|p| p.exists())
            {
                Some(path) => std::fs::read_to_string(&path).map_err(|e| RenderError::Read {
                    path: path.display().to_string(),
                    source: e,
                })?,
                None => (*text).to_owned(),
            };
            if !source.starts_with("Subject:") || !source.contains("\n\n") {
                return Err(RenderError::NoSubject {
                    name: name.to_owned(),
                });
            }
            env.add_template_owned(name.to_owned(), source)
                .map_err(|e| RenderError::Template {
                    name: name.to_owned(),
                    source: e,
                })?;
        }
        Ok(Renderer { env })
    }

    /// Renders the subject, the text and the HTML. The subject is forced
    /// onto one line, so no customer-supplied text can ever add a header.
    pub fn render(
        &self,
        kind: NotificationKind,
        ctx: &NoteContext,
    ) -> Result<Rendered, RenderError> {
        let name = kind.as_str();
        let tmpl = self
            .env
            .get_template(name)
            .map_err(|e| RenderError::Template {
                name: name.to_owned(),
                source: e,
            })?;
        let out = tmpl.render(ctx).map_err(|e| RenderError::Template {
            name: name.to_owned(),
            source: e,
        })?;
        let (head, body) = out.split_once("\n\n").unwrap_or((out.as_str(), ""));
        let subject = crate::domain::normalize::one_line(head.trim_start_matches("Subject:"));
        let text = body.trim_start_matches('\n').to_owned();
        let layout = html_body::Facts::new(kind, ctx, &text);
        Ok(Rendered {
            subject,
            text,
            layout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> NoteContext {
        NoteContext {
            support_name: "Example Support".into(),
            portal_url: "https://p.test".into(),
            ticket_url: Some("https://p.test/tickets/7".into()),
            marker: crate::domain::quotes::REPLY_MARKER,
            ticket: Some(TicketView {
                id: 7,
                tag: "[#7]".into(),
                subject: "Printer\r\nBcc: evil@x.test".into(),
                status: "pending".into(),
                status_label: "Awaiting your reply".into(),
                priority: "normal".into(),
                category: None,
            }),
            message: Some(MessageView {
                author: "Agent".into(),
                text: "Try turning it off.".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn every_built_in_template_renders_with_a_one_line_subject() {
        let r = Renderer::new(None).expect("built-in templates");
        for kind in NotificationKind::ALL {
            let out = r.render(*kind, &ctx()).expect("renders");
            assert!(
                !out.subject.contains('\n') && !out.subject.contains('\r'),
                "{kind}: {:?}",
                out.subject
            );
            assert!(!out.text.is_empty(), "{kind}");
            let html = out.html().expect("the layout draws");
            assert!(html.starts_with("<!DOCTYPE html>"), "{kind}");
        }
        let out = r
            .render(NotificationKind::TicketUpdated, &ctx())
            .expect("renders");
        assert_eq!(out.subject, "[#7] Printer Bcc: evil@x.test");
        let body = out.text;
        assert!(
            body.starts_with(crate::domain::quotes::REPLY_MARKER),
            "{body}"
        );
        assert!(
            body.contains("Agent wrote:\n\nTry turning it off."),
            "{body}"
        );
        assert!(body.contains("We are waiting for your reply"), "{body}");
        assert!(
            body.contains("View your ticket: https://p.test/tickets/7\n"),
            "{body}"
        );
    }

    #[test]
    fn customers_are_led_to_the_portal_and_agents_to_the_desk() {
        use NotificationKind::*;
        // (kind, expected) for ticket 7 on a portal URL with a trailing slash.
        let table = [
            (TicketReceived, "https://p.test/tickets/7"),
            (TicketUpdated, "https://p.test/tickets/7"),
            (PasswordSetup, "https://p.test/tickets/7"),
            (AgentAlert, "https://p.test/desk/tickets/7"),
            (UrgentPage, "https://p.test/desk/tickets/7"),
        ];
        for (kind, want) in table {
            assert_eq!(ticket_url("https://p.test/", 7, kind), want, "{kind}");
        }
    }

    #[test]
    fn the_html_escapes_what_came_from_mail_but_not_slashes() {
        let r = Renderer::new(None).expect("built-in templates");
        let mut c = ctx();
        c.support_name = "Support & <Co>".into();
        if let Some(t) = c.ticket.as_mut() {
            t.subject = "<script>alert(\"x\")</script>".into();
        }
        let html = r
            .render(NotificationKind::TicketUpdated, &c)
            .expect("renders")
            .html()
            .expect("the layout draws");
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("Support &amp; &lt;Co&gt;"), "{html}");
        assert!(html.contains("href=\"https://p.test/tickets/7\""), "{html}");
    }

    #[test]
    fn overrides_replace_one_kind_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("ticket_received.txt"),
            "Subject: Got it {{ ticket.tag }}\n\nThanks!\n",
        )
        .expect("write");
        let r = Renderer::new(Some(dir.path())).expect("override loads");
        let out = r
            .render(NotificationKind::TicketReceived, &ctx())
            .expect("renders");
        assert_eq!(
            (out.subject.as_str(), out.text.as_str()),
            ("Got it [#7]", "Thanks!\n")
        );
        let html = out.html().expect("the layout draws");
        assert!(html.contains(">Thanks!</p>"), "{html}");
        std::fs::write(dir.path().join("refused.txt"), "no subject line").expect("write");
        let err = Renderer::new(Some(dir.path())).expect_err("must fail");
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
