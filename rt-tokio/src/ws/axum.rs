//! axum integration (feature `axum`): [`WebSocketUpgrade`], an extractor in the shape of
//! `axum::extract::ws::WebSocketUpgrade`, so switching is a change of `use` lines.

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use hyper::upgrade::OnUpgrade;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::Request;
use ws_proto::Config;

use super::server::{Decision, ServerOptions};
use super::upgrade::{decide_answer, error_response, request_of, text, UpgradedSocket, Upgrading};

/// A WebSocket upgrade request, extracted by axum: set the options, then
/// [`on_upgrade`](Self::on_upgrade).
///
/// ```
/// use axum::{routing::get, Router};
/// use rt_tokio::ws::axum::WebSocketUpgrade;
///
/// let app: Router = Router::new().route(
///     "/echo",
///     get(|ws: WebSocketUpgrade| async move {
///         ws.protocols(["echo"]).on_upgrade(|mut socket| async move {
///             while let Some(Ok(message)) = socket.recv().await {
///                 if socket.send(message).await.is_err() {
///                     break;
///                 }
///             }
///         })
///     }),
/// );
/// ```
#[derive(Debug)]
pub struct WebSocketUpgrade {
    request: Request,
    on_upgrade: OnUpgrade,
    options: ServerOptions,
}

impl WebSocketUpgrade {
    /// The subprotocols spoken, in order of preference (the first the client offers wins).
    pub fn protocols<I: IntoIterator<Item = T>, T: Into<String>>(mut self, protocols: I) -> Self {
        self.options.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The connection's config (limits, keepalive, timeouts).
    pub fn config(mut self, config: Config) -> Self {
        self.options.config = config;
        self
    }

    /// Accept permessage-deflate with these settings.
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.options.deflate = Some(deflate);
        self
    }

    /// Allow browsers from these origins only (others get 403).
    pub fn allow_origins<I: IntoIterator<Item = T>, T: Into<String>>(mut self, origins: I) -> Self {
        self.options = self.options.allow_origins(origins);
        self
    }

    /// All the options at once.
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// The subprotocol that would be chosen.
    pub fn selected_protocol(&self) -> Option<String> {
        self.options.choose_protocol(&self.request)
    }

    /// The request (path, query, `Origin`, headers, offered subprotocols).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Answer with the 101 and run `callback` with the socket once axum hands the connection
    /// over (on a task of its own); or the refusal the options give (403 for an origin not
    /// allowed).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(UpgradedSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let options = self.options;
        match decide_answer(&self.request, &options, |r| Decision::accept(&options, r)) {
            Ok((response, config)) => {
                let upgrading = Upgrading::from_parts(self.on_upgrade, config, self.request);
                tokio::spawn(async move {
                    match upgrading.await {
                        Ok(socket) => callback(socket).await,
                        Err(e) => tracing::debug!("WebSocket upgrade failed: {e}"),
                    }
                });
                boxed(response)
            }
            Err(refusal) => boxed(refusal),
        }
    }
}

fn boxed(r: http::Response<http_body_util::Full<bytes::Bytes>>) -> Response {
    r.map(Body::new)
}

/// Why a request could not be upgraded: it answers itself (400, 405, 426, 431).
#[derive(Debug)]
pub struct WebSocketUpgradeRejection(Response);

impl IntoResponse for WebSocketUpgradeRejection {
    fn into_response(self) -> Response {
        self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let options = ServerOptions::default();
        let request = request_of(
            &parts.method,
            parts.version,
            &parts.uri,
            &parts.headers,
            &parts.extensions,
            &options,
        )
        .map_err(|e| WebSocketUpgradeRejection(boxed(error_response(&e, parts.version))))?;
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or_else(|| {
            WebSocketUpgradeRejection(boxed(text(426, "this connection cannot be upgraded")))
        })?;
        Ok(WebSocketUpgrade {
            request,
            on_upgrade,
            options,
        })
    }
}
