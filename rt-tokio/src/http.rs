//! Small hyper helpers shared by the SSE and long-poll halves: short error responses,
//! bounded request bodies, the query parameters of a URL, and an HTTP/1.1 accept loop.
//! hyper does all of HTTP; nothing here reads or writes HTTP by hand.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::io;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A response with a short plain-text body saying what was wrong.
pub fn text_response(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{message}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Why a request body could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The connection failed while reading.
    Read(Box<dyn std::error::Error + Send + Sync>),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            BodyError::Read(e) => write!(f, "reading the body failed: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// Reads a whole body, refusing more than `limit` bytes (without buffering past it).
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(BodyError::Read(e)),
    }
}

/// The value of query parameter `name` in `query` (first occurrence), percent-decoded as
/// `application/x-www-form-urlencoded` (a browser's `URLSearchParams` writes `7:3` as
/// `7%3A3`).
#[cfg_attr(not(feature = "sse"), allow(dead_code))]
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<Cow<'q, str>> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Serves HTTP/1.1 on `listener` until accepting fails: each connection in its own task,
/// each request answered by `handler`. For examples and tests; an application with
/// its own server (axum, hyper-util) mounts the services directly.
pub async fn serve<F, Fut, B>(listener: TcpListener, handler: F) -> io::Result<()>
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await
            {
                tracing::debug!(%peer, "http connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let q = Some("channel=chat&cursor=7:3&flag&channel=other&enc=room%3A1%2Fb");
        let param = |name| query_param(q, name);
        assert_eq!(param("channel").as_deref(), Some("chat"));
        assert_eq!(param("cursor").as_deref(), Some("7:3"));
        assert_eq!(param("flag").as_deref(), Some(""));
        assert_eq!(param("enc").as_deref(), Some("room:1/b"));
        assert_eq!(param("nope"), None);
        assert_eq!(query_param(None, "channel"), None);
    }

    #[tokio::test]
    async fn bodies_are_read_within_their_limit() {
        let ok = read_body(Full::new(Bytes::from_static(b"12345")), 5).await;
        assert_eq!(ok.unwrap(), Bytes::from_static(b"12345"));
        let big = read_body(Full::new(Bytes::from_static(b"123456")), 5).await;
        assert!(matches!(big, Err(BodyError::TooLarge { limit: 5 })));
    }
}
