//! Notification text: one template file per kind (`config/templates/<kind>.txt`,
//! built in, overridable from `support.templates_dir`), rendered by minijinja.
//! A template's first line is `Subject: …`; the rest, after a blank line, is
//! the body. Templates are parsed once at start.

use std::path::Path;

use minijinja::Environment;
use serde::Serialize;

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

    /// Renders `(subject, body)`. The subject is forced onto one line, so no
    /// customer-supplied text can ever add a header.
    pub fn render(
        &self,
        kind: NotificationKind,
        ctx: &NoteContext,
    ) -> Result<(String, String), RenderError> {
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
        Ok((subject, body.trim_start_matches('\n').to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> NoteContext {
        NoteContext {
            support_name: "Example Support".into(),
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
            let (subject, body) = r.render(*kind, &ctx()).expect("renders");
            assert!(
                !subject.contains('\n') && !subject.contains('\r'),
                "{kind}: {subject:?}"
            );
            assert!(!body.is_empty(), "{kind}");
        }
        let (subject, body) = r
            .render(NotificationKind::TicketUpdated, &ctx())
            .expect("renders");
        assert_eq!(subject, "[#7] Printer Bcc: evil@x.test");
        assert!(
            body.starts_with(crate::domain::quotes::REPLY_MARKER),
            "{body}"
        );
        assert!(
            body.contains("Agent wrote:\n\nTry turning it off."),
            "{body}"
        );
        assert!(body.contains("We are waiting for your reply"), "{body}");
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
        let (s, b) = r
            .render(NotificationKind::TicketReceived, &ctx())
            .expect("renders");
        assert_eq!((s.as_str(), b.as_str()), ("Got it [#7]", "Thanks!\n"));
        std::fs::write(dir.path().join("refused.txt"), "no subject line").expect("write");
        let err = Renderer::new(Some(dir.path())).expect_err("must fail");
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
