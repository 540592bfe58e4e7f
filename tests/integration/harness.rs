//! What the in-process portal and desk tests share: a portal on a fresh
//! database, one request through the router as from a client address, the
//! answer read whole, and the two form helpers (percent-encoding, the page's
//! form token).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use ticketd::config::Config;
use ticketd::store::{Durability, Store};

/// An answer, its body as text.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// Sends `req` to `app` from 192.0.2.7 (the sign-in limiter keys on it).
pub async fn send(app: &axum::Router, mut req: Request<Body>) -> Reply {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 5555))));
    let res = app.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Percent-encoding for a form value: the portal's own encoder (what is
/// tested here is the pages, not the encoding).
pub use ticketd::web::percent::encode as enc;

/// A portal on a fresh database from a config's text: its config and router.
pub fn portal(text: &str, dir: &std::path::Path) -> (Config, axum::Router) {
    let config = Config::parse(text, dir).expect("config");
    let state = ticketd::web::state(&config).expect("portal state");
    let router = ticketd::web::router(state);
    (config, router)
}

/// A connection to the portal's database.
pub fn store(config: &Config) -> Store {
    Store::from_config(&config.store, Durability::Full).expect("store")
}

/// Runs `sql` on the portal's database in one transaction.
pub fn sql(config: &Config, sql: &str) {
    let mut store = store(config);
    let tx = store.write().expect("tx");
    tx.execute_batch(sql).expect("sql");
    tx.commit().expect("commit");
}

/// The form token of the first form on a page.
pub fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a form token")
        .to_owned()
}
