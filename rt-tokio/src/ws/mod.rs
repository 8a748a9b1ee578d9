//! WebSocket over tokio: client, server, hyper upgrade (and axum, with the `axum` feature).
