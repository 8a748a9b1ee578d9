//! axum integration (feature `axum`): the `Last-Event-ID` of a request as an extractor.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::hub::Cursor;

/// The request's `Last-Event-ID` as a hub cursor (`None` when absent or empty). A value
/// that is not a cursor is refused with 400 and a short text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastEventId(pub Option<Cursor>);

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        super::last_event_id(&parts.headers)
            .map(LastEventId)
            .map_err(|e| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("invalid Last-Event-ID: {e}\n"),
                )
                    .into_response()
            })
    }
}
