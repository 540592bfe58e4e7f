//! `[metrics] listen`: a deliberately tiny HTTP/1.1 responder for two
//! read-only paths, `/metrics` (Prometheus text) and `/healthz` (200 "ok",
//! or 503 and the reason). One request per connection, small reads, a
//! timeout: nothing a scraper or a load balancer needs more of.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::Observer;

/// Binds `listen`; the error names the key so the operator knows what to fix.
pub async fn bind(listen: &str) -> Result<TcpListener, String> {
    TcpListener::bind(listen)
        .await
        .map_err(|e| format!("metrics.listen {listen:?}: cannot listen there: {e}"))
}

/// Connections answered at once; more are closed at once, so a flood of
/// idle sockets cannot use up the daemon's file descriptors.
const MAX_CONNECTIONS: usize = 16;

pub async fn serve(
    listener: TcpListener,
    observer: Arc<Observer>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        drop(stream);
                        continue;
                    };
                    let o = observer.clone();
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, &o)).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = stop.changed() => return,
        }
    }
}

async fn answer(mut stream: TcpStream, observer: &Observer) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, kind, body) = respond(method, path, observer);
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if method == "HEAD" { "" } else { body.as_str() }
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

fn respond(method: &str, path: &str, o: &Observer) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return ("405 Method Not Allowed", TEXT, "GET only\n".into());
    }
    match path.split('?').next().unwrap_or("") {
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            o.render_metrics(),
        ),
        "/healthz" => match health(o) {
            Ok(()) => ("200 OK", TEXT, "ok\n".into()),
            Err(why) => ("503 Service Unavailable", TEXT, format!("{why}\n")),
        },
        _ => ("404 Not Found", TEXT, "try /metrics or /healthz\n".into()),
    }
}

/// Healthy: logged in to the mailbox and the mailbox loop not stuck.
fn health(o: &Observer) -> Result<(), String> {
    if let Some(late) = o.overdue() {
        return Err(format!(
            "the mailbox loop is stuck ({} s past its own timeout)",
            late.as_secs()
        ));
    }
    if !o.is_connected() {
        return Err("not connected to the IMAP server (see the log)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_health() {
        let o = Observer::new();
        assert_eq!(respond("GET", "/healthz", &o).0, "503 Service Unavailable");
        o.imap_connected(true);
        assert_eq!(
            respond("GET", "/healthz", &o),
            ("200 OK", "text/plain; charset=utf-8", "ok\n".into())
        );
        assert!(respond("GET", "/metrics", &o)
            .2
            .contains("ticketd_imap_connected 1"));
        assert_eq!(respond("POST", "/metrics", &o).0, "405 Method Not Allowed");
        assert_eq!(respond("GET", "/", &o).0, "404 Not Found");
    }
}
