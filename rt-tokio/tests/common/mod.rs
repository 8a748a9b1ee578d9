#![cfg(all(feature = "sse", feature = "longpoll"))]
//! A test server on 127.0.0.1 (a port from binding `:0`): `/sse` (SSE from the hub) and
//! `/poll` (long polling), every connection tracked so a test can drop them all, or stop
//! the server and start a new one (new hub, new epoch) on the same port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rt_tokio::hub::{Epoch, Hub, MemoryBackend, MemoryConfig};
use rt_tokio::longpoll::{LongPollConfig, LongPollServer};
use rt_tokio::sse::{SseConfig, SseService};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

pub type BoxBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub fn boxed<B>(response: Response<B>) -> Response<BoxBody>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    response.map(|b| b.map_err(Into::into).boxed_unsync())
}

pub fn memory(epoch: u64, max_messages: usize) -> MemoryBackend {
    let mut config = MemoryConfig::default();
    config.epoch = Some(Epoch(epoch));
    config.max_messages = max_messages;
    MemoryBackend::new(config)
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub hub: Hub,
    pub longpoll: LongPollServer,
    pub gets: Arc<AtomicUsize>,
    accept: AbortHandle,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl TestServer {
    pub async fn start(hub: Hub, sse: SseConfig, longpoll: LongPollConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::on(listener, hub, sse, longpoll)
    }

    /// The same server again on `addr` (after `stop`), as a restarted process would be.
    pub async fn restart_on(
        addr: SocketAddr,
        hub: Hub,
        sse: SseConfig,
        longpoll: LongPollConfig,
    ) -> TestServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        Self::on(listener, hub, sse, longpoll)
    }

    fn on(listener: TcpListener, hub: Hub, sse: SseConfig, config: LongPollConfig) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let sse = SseService::new(hub.clone(), sse);
        let longpoll = LongPollServer::new(hub.clone(), config);
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let gets = Arc::new(AtomicUsize::new(0));
        let accept = {
            let connections = connections.clone();
            let longpoll = longpoll.clone();
            let gets = gets.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let (sse, longpoll, gets) = (sse.clone(), longpoll.clone(), gets.clone());
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (sse, longpoll, gets) = (sse.clone(), longpoll.clone(), gets.clone());
                        async move {
                            let response = match req.uri().path() {
                                "/sse" => boxed(sse.handle(req).await),
                                "/poll" => {
                                    if req.method() == http::Method::GET {
                                        gets.fetch_add(1, Ordering::Relaxed);
                                    }
                                    boxed(longpoll.handle(req).await)
                                }
                                _ => boxed(rt_tokio::http::text_response(
                                    http::StatusCode::NOT_FOUND,
                                    "not found",
                                )),
                            };
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let task = tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    });
                    connections.lock().unwrap().push(task.abort_handle());
                }
            })
            .abort_handle()
        };
        TestServer {
            addr,
            hub,
            longpoll,
            gets,
            accept,
            connections,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// Drops every open connection (the server side closes its sockets).
    pub fn drop_connections(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Stops accepting and drops every connection.
    pub async fn stop(self) -> SocketAddr {
        self.accept.abort();
        self.drop_connections();
        // Let the aborted tasks run their drops (sockets closed, listener released).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        self.addr
    }
}

/// One request on a fresh hyper client connection; the whole answer.
pub async fn request(
    addr: SocketAddr,
    request: Request<http_body_util::Full<Bytes>>,
) -> (http::StatusCode, http::HeaderMap, Bytes) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

pub fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Request<http_body_util::Full<Bytes>> {
    let mut b = Request::get(path).header("host", addr.to_string());
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(http_body_util::Full::new(Bytes::new())).unwrap()
}
