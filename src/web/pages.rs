//! The portal's pages: minijinja templates compiled into the binary, parsed
//! once. Their names end in `.html`, so everything they print is escaped —
//! a subject, a name or a message from mail can never become markup.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("setup.html", include_str!("templates/setup.html")),
    ("reset.html", include_str!("templates/reset.html")),
    ("tickets.html", include_str!("templates/tickets.html")),
    ("ticket.html", include_str!("templates/ticket.html")),
    ("new.html", include_str!("templates/new.html")),
    ("org.html", include_str!("templates/org.html")),
    ("account.html", include_str!("templates/account.html")),
    ("desk_queue.html", include_str!("templates/desk_queue.html")),
    ("desk_log.html", include_str!("templates/desk_log.html")),
    (
        "desk_outbox.html",
        include_str!("templates/desk_outbox.html"),
    ),
    (
        "desk_quarantine.html",
        include_str!("templates/desk_quarantine.html"),
    ),
    ("desk_users.html", include_str!("templates/desk_users.html")),
    (
        "desk_ticket.html",
        include_str!("templates/desk_ticket.html"),
    ),
];

/// The stylesheet, served at `/static/portal.css`.
pub const CSS: &str = include_str!("static/portal.css");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, source) in TEMPLATES {
            // The templates are part of the binary and covered by the tests
            // (every page is rendered there): a broken one fails them.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "portal template does not parse");
            }
        }
        env
    })
}

/// Renders `name` with `ctx`; a template error is logged and shown as a
/// plain error page, never a panic.
pub fn render<S: Serialize>(name: &str, ctx: S) -> String {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(template = name, error = %e, "cannot render a portal page");
            "<!doctype html><title>Error</title><p>Something went wrong on our side.</p>".into()
        }
    }
}

/// The page for an error status.
pub fn error_page(status: u16, message: &str) -> String {
    render(
        "error.html",
        minijinja::context! { status => status, message => message, title => "Error" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn text_from_mail_is_escaped() {
        let html = error_page(400, "<script>alert(1)</script>");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
