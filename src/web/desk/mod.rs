//! The desk (DESIGN §9): agents work the queue on the web, with the powers
//! their verified email commands and the console have, through the same
//! code (`Ingestor::desk_reply`, `Ingestor::desk_update`). Every page and
//! form here is for agents only: anyone else gets the very 404 of a page
//! that does not exist, and someone not signed in goes to the sign-in page
//! (the [`SignedIn`] extractor). POSTs pass the portal's cross-site check
//! (the router's layer) and the session's form token.

pub mod db;
pub mod log;
pub mod outbox;
pub mod quarantine;
pub mod queue;
pub mod ticket;
pub mod users;

use axum::routing::{get, post};
use axum::Router;

use super::error::WebError;
use super::extract::SignedIn;

pub fn router() -> Router<super::State> {
    Router::new()
        .route("/desk", get(queue::show))
        .route("/desk/tickets/{id}", get(ticket::show))
        .route(
            "/desk/tickets/{id}/attachments/{aid}",
            get(ticket::attachment),
        )
        .route("/desk/tickets/{id}/reply", post(ticket::reply))
        .route("/desk/tickets/{id}/update", post(ticket::update))
        .route("/desk/tickets/{id}/watch", post(ticket::watch))
        .route("/desk/tickets/{id}/unwatch", post(ticket::unwatch))
        .route("/desk/log", get(log::show))
        .route("/desk/outbox", get(outbox::show))
        .route("/desk/users", get(users::list))
        .route("/desk/users/role", post(users::set_role))
        .route("/desk/users/reset-password", post(users::reset_password))
        .route("/desk/users/clear-bounce", post(users::clear_bounce))
        .route("/desk/quarantine", get(quarantine::list))
        .route("/desk/quarantine/{id}", get(quarantine::show))
        .route("/desk/quarantine/{id}/replay", post(quarantine::replay))
        .route("/desk/quarantine/{id}/discard", post(quarantine::discard))
        .route("/desk/outbox/{id}/retry", post(outbox::retry))
        .route("/desk/log/clear", post(log::clear))
        .route("/desk/log/{event}/delete", post(log::delete))
}

/// Agents only: anyone else is answered as if the page did not exist.
pub fn require_agent(user: &SignedIn) -> Result<(), WebError> {
    if db::is_agent(&user.viewer()) {
        Ok(())
    } else {
        Err(WebError::NotFound)
    }
}

/// What every desk page's layout needs.
fn layout(web: &super::State, user: &SignedIn) -> minijinja::Value {
    minijinja::context! {
        support_name => web.site.support_name, support_address => web.site.support_address,
        user => super::tickets::user_ctx(user), csrf => user.form_token, nav => "desk",
    }
}
