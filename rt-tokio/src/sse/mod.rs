//! Server-Sent Events over hyper: a server body fed by the hub, and an EventSource-like client.
