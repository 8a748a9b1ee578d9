//! Long polling over hyper: the server service on the longpoll-proto hub, and the client poll loop.
