//! A one-shot HTTPS POST over tokio-rustls (already ticketd's TLS): the
//! token endpoints need one form request an hour, not an HTTP stack.
//! HTTP/1.1 with `Connection: close`; the answer is read by Content-Length,
//! chunked coding or to the end of the stream.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::url::Url;

/// Token answers are small; anything bigger is not one.
const MAX_REPLY: usize = 256 * 1024;

/// A status and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why a request failed, for a person (never the body: it holds secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The network or the server: trying again later may work.
    Net(String),
    /// The certificate or the TLS setup: an operator must fix it.
    Tls(String),
}

impl From<String> for Failed {
    fn from(s: String) -> Failed {
        Failed::Net(s)
    }
}

/// POSTs `body` (form-encoded) to `url`, all within `limit`.
pub async fn post_form(
    url: &Url,
    body: &str,
    ca_file: Option<&std::path::Path>,
    limit: Duration,
) -> Result<Reply, Failed> {
    tokio::time::timeout(limit, post(url, body, ca_file))
        .await
        .map_err(|_| Failed::Net(format!("no answer within {} s", limit.as_secs())))?
}

async fn post(url: &Url, body: &str, ca_file: Option<&std::path::Path>) -> Result<Reply, Failed> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", url.host, url.port))?;
    let _ = tcp.set_nodelay(true);
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ticketd/{}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        url.target,
        url.authority,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let raw = if url.https {
        let connector = crate::tls::connector(&url.host, ca_file, "oauth2.ca_file")
            .map_err(|e| Failed::Tls(e.to_string()))?;
        let tls = crate::tls::wrap(&connector, &url.host, tcp)
            .await
            .map_err(|e| Failed::Tls(e.to_string()))?;
        exchange(tls, request.as_bytes()).await?
    } else {
        exchange(tcp, request.as_bytes()).await?
    };
    Ok(parse_reply(&raw)?)
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    s.write_all(request)
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    s.flush()
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > MAX_REPLY {
                    return Err("the answer is too large for a token response".into());
                }
                if complete(&out) {
                    break;
                }
            }
            // Servers that close without TLS close_notify: what arrived counts.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => break,
            Err(e) => return Err(format!("cannot read the answer: {e}")),
        }
    }
    Ok(out)
}

/// Whether a whole answer has arrived (some servers keep the socket open).
fn complete(raw: &[u8]) -> bool {
    parse_reply(raw).is_ok() && !chunked_or_unsized(raw)
}

fn chunked_or_unsized(raw: &[u8]) -> bool {
    let Some(end) = find(raw, b"\r\n\r\n") else {
        return true;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    // A chunked body is complete once parse_reply saw its last chunk.
    if head.contains("transfer-encoding: chunked") {
        return false;
    }
    !head.contains("content-length:")
}

/// Splits an HTTP/1.x answer into status and body.
pub fn parse_reply(raw: &[u8]) -> Result<Reply, String> {
    let end = find(raw, b"\r\n\r\n").ok_or("the answer ended inside its headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| "not an HTTP answer".to_owned())?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "content-length" {
            length = Some(v.parse::<usize>().map_err(|_| "a bad Content-Length")?);
        } else if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or("the answer is shorter than its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Reply { status, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or("a chunked answer ended early")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("a chunked answer ended early")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("a chunked answer ended early")?;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_length_chunks_or_to_the_end() {
        for (raw, want) in [
            (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}junk",
                Some((200, "{}")),
            ),
            (
                "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"e\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n",
                Some((400, "{\"e\":1}")),
            ),
            ("HTTP/1.0 503 Busy\r\n\r\nlater", Some((503, "later"))),
            ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", None),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", None),
            ("SSH-2.0-OpenSSH\r\n\r\n", None),
            ("HTTP/1.1 200 OK\r\nContent-Len", None),
        ] {
            let got = parse_reply(raw.as_bytes())
                .ok()
                .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()));
            assert_eq!(got, want.map(|(s, b)| (s, b.to_owned())), "{raw:?}");
        }
    }

    #[test]
    fn a_sized_or_chunked_answer_is_complete_without_waiting_for_the_close() {
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}"));
        assert!(complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        ));
        assert!(!complete(b"HTTP/1.0 200 OK\r\n\r\n{}"));
    }
}
