//! The portal (DESIGN §8): server-rendered pages for customers and org
//! admins, over the same core and store as mail. Handlers parse a request,
//! call the store or the ingest pipeline (the very code a mail goes
//! through), and render; no SQL and no rule lives here. Every ticket page
//! and download is reached through the one access rule of
//! [`crate::domain::access`], and a ticket the viewer may not see is the
//! same 404 as one that does not exist.

pub mod account;
pub mod auth;
pub mod csrf;
pub mod db;
pub mod desk;
pub mod error;
pub mod extract;
pub mod limiter;
pub mod multipart;
pub mod org;
pub mod pages;
pub mod percent;
pub mod rows;
pub mod session;
pub mod tickets;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::config::Config;
use crate::ingest::Ingestor;

/// Everything a handler needs: the database pool, the ingest pipeline
/// (web replies and tickets take the path mail takes) and what the config
/// says about the portal.
pub struct Web {
    pub db: db::Pool,
    pub ingestor: Arc<Ingestor>,
    pub site: Site,
    pub limiter: limiter::SignInLimiter,
}

/// The portal's settings, read once from the config.
#[derive(Debug, Clone)]
pub struct Site {
    pub support_name: String,
    pub support_address: String,
    /// `support.portal_url`, without a trailing slash.
    pub url: String,
    /// `scheme://host[:port]` of [`Site::url`]: what `Origin` must say.
    pub origin: String,
    /// Cookies carry `Secure` and the `__Host-` prefix (https).
    pub secure: bool,
    pub session_days: u32,
    pub categories: Vec<String>,
    pub fields: Vec<crate::config::PortalField>,
    pub max_upload: u64,
}

pub type State = Arc<Web>;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("support.portal_url {0:?} is plain http on a public address: sessions would travel in clear. Use https:// (behind a TLS proxy), or http:// only for 127.0.0.1/localhost")]
    PlainHttp(String),
    #[error("support.portal_url {0:?} has no host")]
    NoHost(String),
}

impl Site {
    pub fn from_config(config: &Config) -> Result<Site, SiteError> {
        let url = config.support.portal_url.trim_end_matches('/').to_owned();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| SiteError::NoHost(url.clone()))?;
        let host_port = rest.split('/').next().unwrap_or("");
        if host_port.is_empty() {
            return Err(SiteError::NoHost(url));
        }
        let secure = scheme.eq_ignore_ascii_case("https");
        let host = host_port
            .rsplit_once(':')
            .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
            .map_or(host_port, |(h, _)| h);
        let loopback = matches!(host, "localhost" | "[::1]") || host.starts_with("127.");
        if !secure && !loopback {
            return Err(SiteError::PlainHttp(url));
        }
        let portal = config.portal.as_ref();
        Ok(Site {
            support_name: config.support.name.clone(),
            support_address: config.support.address.clone(),
            origin: format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host_port.to_ascii_lowercase()
            ),
            url,
            secure,
            session_days: portal.map_or(14, |p| p.session_days),
            categories: portal.map(|p| p.categories.clone()).unwrap_or_default(),
            fields: portal.map(|p| p.fields.clone()).unwrap_or_default(),
            max_upload: config.store.max_attachment_bytes,
        })
    }
}

/// The portal's routes, with the headers every response carries and the
/// cross-site check every POST goes through.
pub fn router(state: State) -> Router {
    // A form carries at most a few attachments of max_upload each; the
    // exact per-file limit is checked while reading (413 with a message).
    let body_limit = (state.site.max_upload as usize)
        .saturating_mul(4)
        .saturating_add(1 << 20);
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/tickets") }),
        )
        .route("/static/portal.css", get(stylesheet))
        .merge(auth::router())
        .merge(tickets::router())
        .merge(org::router())
        .merge(account::router())
        .merge(desk::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::check_origin,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::CSS,
    )
}

/// DESIGN §8: no inline script anywhere, no framing, no sniffing, no
/// referrer (token links must not leak), and pages never cached.
async fn security_headers(
    req: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error(transparent)]
    Setup(#[from] crate::ingest::SetupError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("portal.listen {addr}: cannot listen there: {source}; choose a free address:port")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// The portal's state from the config: its own ingest pipeline and
/// connections on the same database as the daemon.
pub fn state(config: &Config) -> Result<State, StartError> {
    state_waking(config, Arc::new(tokio::sync::Notify::new()))
}

/// [`state`], waking `wake` (the courier's) after every portal change
/// that may have queued mail.
pub fn state_waking(config: &Config, wake: Arc<tokio::sync::Notify>) -> Result<State, StartError> {
    let site = Site::from_config(config)?;
    let mut store =
        crate::store::Store::from_config(&config.store, crate::store::Durability::Full)?;
    let ingestor = Arc::new(Ingestor::new(config, &mut store)?);
    let files = crate::attachments::AttachmentDir::new(&config.attachments_dir());
    Ok(Arc::new(Web {
        db: db::Pool::new(config.store.clone(), ingestor.clone(), files, wake),
        ingestor,
        site,
        limiter: limiter::SignInLimiter::default(),
    }))
}

/// Listens on `portal.listen`.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.to_owned(),
            source,
        })
}

/// Serves the portal on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
}
