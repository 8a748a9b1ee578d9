//! hyper 1.x: answer an upgrade request with its 101 (judged by ws-proto's server handshake
//! rules) and get the socket once hyper hands the connection over. Over HTTP/2 the request is
//! an extended CONNECT (RFC 8441), answered 200; the socket is then that stream, under
//! HTTP/2's flow control.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, Uri, Version};
use http_body_util::Full;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use ws_proto::handshake::{HandshakeError, Headers, Request};
use ws_proto::{Config, Connection};

use super::server::{Answer, Decision, ServerOptions};
use super::socket::WebSocket;
use crate::clock;

/// A WebSocket over a connection hyper handed over.
pub type UpgradedSocket = WebSocket<TokioIo<Upgraded>>;

/// A response with a whole body, as the upgrade answers.
pub type HttpResponse = Response<Full<Bytes>>;

/// Judge an upgrade request parsed by an HTTP server (method, version, target, headers, and
/// over HTTP/2 the `:protocol` hyper keeps in the extensions) by ws-proto's rules: an
/// HTTP/1.1 upgrade, or an HTTP/2 extended CONNECT (RFC 8441).
pub(crate) fn request_of(
    method: &Method,
    version: Version,
    uri: &Uri,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    options: &ServerOptions,
) -> Result<Request, HandshakeError> {
    let fields = Headers::from_pairs(headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))?;
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    if version == Version::HTTP_2 {
        return Request::from_extended_connect(
            method.as_str(),
            extensions.get::<hyper::ext::Protocol>().map(|p| p.as_str()),
            target,
            uri.authority().map(|a| a.as_str()),
            fields,
            options.limits,
        );
    }
    Request::from_parts(
        method.as_str(),
        version == Version::HTTP_11,
        target,
        fields,
        options.limits,
        Vec::new(),
    )
}

/// A response with `status`, `headers` and `body`.
pub(crate) fn response<'a>(
    status: u16,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (n, v) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(n), HeaderValue::try_from(v)) {
            r.headers_mut().append(n, v);
        }
    }
    r
}

/// The answer to a request that is not a valid upgrade (400, 405, 426, 431), without the
/// connection-specific fields over HTTP/2.
pub(crate) fn error_response(e: &HandshakeError, version: Version) -> Response<Full<Bytes>> {
    let headers = if version == Version::HTTP_2 {
        e.http2_response_headers()
    } else {
        e.response_headers()
    };
    response(
        e.status().unwrap_or(500),
        headers,
        Bytes::from(e.response_body()),
    )
}

/// A short plain-text answer.
pub(crate) fn text(status: u16, body: &str) -> Response<Full<Bytes>> {
    response(
        status,
        [("Content-Type", "text/plain; charset=utf-8")],
        Bytes::from(format!("{body}\n")),
    )
}

/// The answer the options and `decide` give: the 101 and the config, or a refusal.
#[allow(clippy::result_large_err)]
pub(crate) fn decide_answer(
    request: &Request,
    options: &ServerOptions,
    decide: impl FnOnce(&Request) -> Decision,
) -> Result<(HttpResponse, Config), HttpResponse> {
    if options.config.mode != ws_proto::MessageMode::Assembled {
        return Err(text(500, "the server's WebSocket config is invalid"));
    }
    if !options.origin_allowed(request) {
        return Err(text(403, "this origin may not open a WebSocket here"));
    }
    let (protocol, headers) = match decide(request) {
        Decision::Accept { protocol, headers } => (protocol, headers),
        Decision::Reject {
            status,
            headers,
            body,
        } => {
            return Err(response(
                status,
                headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                body,
            ))
        }
    };
    let answer = Answer::new(request, options, protocol, headers);
    let headers = answer
        .headers(request)
        .map_err(|_| text(500, "the server's answer could not be written"))?;
    let r = response(
        request.accept_status(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        Bytes::new(),
    );
    Ok((r, answer.config))
}

/// Answer `req` (an upgrade request hyper received) as `options` say: `Ok` with the 101 (200
/// for an HTTP/2 extended CONNECT) to return and the socket to await once hyper switches
/// protocols, or `Err` with the refusal to return (400, 403, 405, 426, 431, as the request
/// deserves). HTTP/2 needs a server with extended CONNECT enabled (as [`crate::http::serve`]
/// does).
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use rt_tokio::ws::{upgrade, ServerOptions};
///
/// async fn handle(mut req: http::Request<hyper::body::Incoming>) -> http::Response<Full<Bytes>> {
///     match upgrade(&mut req, &ServerOptions::default()) {
///         Ok((response, socket)) => {
///             tokio::spawn(async move {
///                 let Ok(mut ws) = socket.await else { return };
///                 while let Some(Ok(message)) = ws.recv().await {
///                     if ws.send(message).await.is_err() {
///                         break;
///                     }
///                 }
///             });
///             response
///         }
///         Err(refusal) => refusal,
///     }
/// }
/// ```
#[allow(clippy::result_large_err)]
pub fn upgrade<B>(
    req: &mut http::Request<B>,
    options: &ServerOptions,
) -> Result<(HttpResponse, Upgrading), HttpResponse> {
    upgrade_with(req, options, |r| Decision::accept(options, r))
}

/// [`upgrade`], with `decide` seeing the request (path, query, `Origin`, headers, offered
/// subprotocols) once the options' checks passed.
#[allow(clippy::result_large_err)]
pub fn upgrade_with<B>(
    req: &mut http::Request<B>,
    options: &ServerOptions,
    decide: impl FnOnce(&Request) -> Decision,
) -> Result<(HttpResponse, Upgrading), HttpResponse> {
    let request = request_of(
        req.method(),
        req.version(),
        req.uri(),
        req.headers(),
        req.extensions(),
        options,
    )
    .map_err(|e| error_response(&e, req.version()))?;
    let (response, config) = decide_answer(&request, options, decide)?;
    let on_upgrade = hyper::upgrade::on(req);
    Ok((
        response,
        Upgrading {
            on_upgrade,
            config,
            request,
        },
    ))
}

/// The socket to come once hyper switches protocols: `.await` it (after returning the 101 or
/// 200).
#[derive(Debug)]
pub struct Upgrading {
    on_upgrade: OnUpgrade,
    config: Config,
    request: Request,
}

impl Upgrading {
    /// The request being upgraded (path, query, headers...).
    pub fn request(&self) -> &Request {
        &self.request
    }

    #[cfg(feature = "axum")]
    pub(crate) fn from_parts(on_upgrade: OnUpgrade, config: Config, request: Request) -> Self {
        Upgrading {
            on_upgrade,
            config,
            request,
        }
    }
}

impl IntoFuture for Upgrading {
    type Output = Result<UpgradedSocket, hyper::Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let upgraded = self.on_upgrade.await?;
            let now = ws_proto::Instant::from_micros(clock::now_micros());
            let conn = Connection::server(now, self.config);
            Ok(WebSocket::from_connection(TokioIo::new(upgraded), conn))
        })
    }
}
