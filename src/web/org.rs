//! Organization admins (DESIGN §8): the people of their organization, their
//! access (No access / Member / Admin), and invitations, which are
//! `password_setup` mails. Admins act only on their own organization, never
//! on agents, never on themselves.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::error::WebError;
use super::extract::SignedIn;
use super::pages;
use super::tickets::user_ctx;
use crate::domain::model::Role;

pub fn router() -> Router<super::State> {
    Router::new()
        .route("/org", get(page))
        .route("/org/invite", post(invite))
        .route("/org/role", post(set_role))
}

/// The admin's organization, or 404 for everyone else (a member is not told
/// the page exists).
fn admin_org(user: &SignedIn) -> Result<String, WebError> {
    match (&user.role, &user.org) {
        (Role::Admin, Some(org)) => Ok(org.clone()),
        _ => Err(WebError::NotFound),
    }
}

/// How an admin reads a role.
pub fn role_label(r: Role) -> &'static str {
    match r {
        Role::NoAccess => "No access",
        Role::Member => "Member",
        Role::Admin => "Admin",
        Role::Agent => "Support agent",
    }
}

async fn page(State(web): State<super::State>, user: SignedIn) -> Result<Response, WebError> {
    let org = admin_org(&user)?;
    let members = web.db.org_members(org.clone()).await?;
    let roles: Vec<minijinja::Value> = [Role::NoAccess, Role::Member, Role::Admin]
        .iter()
        .map(|r| minijinja::context! { value => r.as_str(), label => role_label(*r) })
        .collect();
    Ok(Html(pages::render(
        "org.html",
        minijinja::context! {
            title => org.clone(), nav => "org", support_name => web.site.support_name,
            support_address => web.site.support_address,
            user => user_ctx(&user), csrf => user.form_token,
            org => org, members => members, roles => roles,
        },
    ))
    .into_response())
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn set_role(
    State(web): State<super::State>,
    user: SignedIn,
    Form(form): Form<RoleForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    admin_org(&user)?;
    let role: Role = form
        .role
        .parse()
        .map_err(|_| WebError::BadRequest("Choose No access, Member or Admin.".into()))?;
    if role == Role::Agent {
        return Err(WebError::BadRequest(
            "Choose No access, Member or Admin.".into(),
        ));
    }
    let email = crate::domain::model::normalize_email(&form.email);
    if email == user.email {
        return Err(WebError::BadRequest(
            "You cannot change your own access.".into(),
        ));
    }
    web.db.set_org_role(user.viewer(), email, role).await?;
    Ok(Redirect::to("/org").into_response())
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn invite(
    State(web): State<super::State>,
    user: SignedIn,
    Form(form): Form<InviteForm>,
) -> Result<Response, WebError> {
    user.check_form(&form.csrf)?;
    let org = admin_org(&user)?;
    let email = crate::domain::model::normalize_email(&form.email);
    let domain_ok = email
        .rsplit_once('@')
        .is_some_and(|(l, d)| !l.is_empty() && d == org);
    if !domain_ok {
        return Err(WebError::BadRequest(format!(
            "Invite addresses at {org} only."
        )));
    }
    web.db.invite(user.email.clone(), email).await?;
    Ok(Redirect::to("/org").into_response())
}
