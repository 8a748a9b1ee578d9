//! Outgoing connections shared by the clients of every transport: TCP with a connect
//! timeout, then TLS for `wss://` and `https://` (feature `tls`), and the stream a WebSocket
//! gets on an HTTP/2 connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A client's connection: plain TCP, TLS over TCP, or one stream of an HTTP/2 connection.
#[derive(Debug)]
pub enum ClientStream {
    /// `ws://`, `http://`.
    Plain(TcpStream),
    /// `wss://`, `https://`.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// A stream of an HTTP/2 connection shared with other streams (a WebSocket by RFC 8441):
    /// its bytes are DATA frames, under HTTP/2 flow control.
    Http2(Box<TokioIo<Upgraded>>),
}

impl ClientStream {
    /// The TCP socket underneath, if the stream has one of its own (not an HTTP/2 stream).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Some(s.get_ref().0),
            ClientStream::Http2(_) => None,
        }
    }

    /// The protocol TLS negotiated by ALPN (`b"h2"`, `b"http/1.1"`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => s.get_ref().1.alpn_protocol(),
            _ => None,
        }
    }
}

/// Where a client connects: host, port and whether TLS is used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// Host name or address literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS on top of TCP.
    pub tls: bool,
}

/// Options of [`connect`].
#[derive(Clone, Default)]
pub struct ConnectOptions {
    /// Give up connecting (TCP and TLS together) after this long. `None`: no limit.
    pub timeout: Option<Duration>,
    /// The TLS client config (`None`: [`crate::tls::client_config`], the Mozilla roots).
    #[cfg(feature = "tls")]
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
    /// The protocols offered by TLS ALPN, in order (`b"h2"`, `b"http/1.1"`); empty: the TLS
    /// config's own.
    pub alpn: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("timeout", &self.timeout)
            .field("alpn", &self.alpn)
            .finish_non_exhaustive()
    }
}

/// Open a connection to `target` (TCP, then TLS if `target.tls`), with `TCP_NODELAY` set.
pub async fn connect(target: &Target, options: &ConnectOptions) -> io::Result<ClientStream> {
    let work = async {
        let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
        tcp.set_nodelay(true)?;
        if !target.tls {
            return Ok(ClientStream::Plain(tcp));
        }
        tls_connect(target, options, tcp).await
    };
    match options.timeout {
        None => work.await,
        Some(t) => tokio::time::timeout(t, work)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))),
    }
}

#[cfg(feature = "tls")]
async fn tls_connect(
    target: &Target,
    options: &ConnectOptions,
    tcp: TcpStream,
) -> io::Result<ClientStream> {
    use tokio_rustls::rustls::pki_types::ServerName;
    let mut config = match &options.tls {
        Some(c) => c.clone(),
        None => std::sync::Arc::new(crate::tls::client_config()),
    };
    if !options.alpn.is_empty() {
        std::sync::Arc::make_mut(&mut config).alpn_protocols = options.alpn.clone();
    }
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(ClientStream::Tls(Box::new(tls)))
}

#[cfg(not(feature = "tls"))]
async fn tls_connect(
    _target: &Target,
    _options: &ConnectOptions,
    _tcp: TcpStream,
) -> io::Result<ClientStream> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TLS needs rt-tokio's `tls` feature",
    ))
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ClientStream::Http2(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            ClientStream::Http2(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            ClientStream::Http2(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => s.is_write_vectored(),
            ClientStream::Http2(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ClientStream::Http2(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ClientStream::Http2(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The target of a `ws://`, `wss://`, `http://` or `https://` URL, or why it has none.
pub fn target_of(uri: &http::Uri) -> Result<Target, &'static str> {
    let tls = match uri.scheme_str() {
        Some("ws") | Some("http") => false,
        Some("wss") | Some("https") => true,
        Some(_) => return Err("the scheme is not ws, wss, http or https"),
        None => return Err("the URL has no scheme"),
    };
    let host = uri.host().ok_or("the URL has no host")?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok(Target {
        host: host.to_string(),
        port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_of_urls() {
        let cases: [(&str, Result<Target, &str>); 6] = [
            (
                "ws://example.com/chat",
                Ok(Target {
                    host: "example.com".into(),
                    port: 80,
                    tls: false,
                }),
            ),
            (
                "wss://example.com:8443/",
                Ok(Target {
                    host: "example.com".into(),
                    port: 8443,
                    tls: true,
                }),
            ),
            (
                "https://[::1]/events",
                Ok(Target {
                    host: "::1".into(),
                    port: 443,
                    tls: true,
                }),
            ),
            (
                "http://127.0.0.1:9/poll",
                Ok(Target {
                    host: "127.0.0.1".into(),
                    port: 9,
                    tls: false,
                }),
            ),
            (
                "ftp://example.com/",
                Err("the scheme is not ws, wss, http or https"),
            ),
            ("/relative", Err("the URL has no scheme")),
        ];
        for (url, want) in cases {
            let uri: http::Uri = url.parse().unwrap();
            assert_eq!(target_of(&uri), want, "{url}");
        }
    }
}
