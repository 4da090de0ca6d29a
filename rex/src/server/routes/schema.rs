//! `GET /rex/v0/schema`: the protocol in JSON Schema, the same for every
//! reader. It changes only with the program, so within one epoch (one run
//! of the server) it is fixed: the epoch is its `ETag`.

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use rex_proto::{ErrorCode, Protocol};

use super::error::{json_response, ApiError};
use super::files::not_modified;
use super::request::if_none_match;
use super::{Body, Room};
use crate::server::app::app_id;
use crate::server::app::RexApp;

pub(crate) fn get<A: RexApp>(
    req: &Request<Incoming>,
    room: &Room<A>,
) -> Result<Response<Body>, ApiError> {
    let Some(schema) = <A::Protocol as Protocol>::schema() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!(
                "the `{}` app does not publish its protocol's schema (an app opts in with \
                 `#[rex(schema)]` on its protocol enums); /rex/v0/info lists its kinds",
                app_id::<A>()
            ),
        ));
    };
    let epoch = room.log.epoch();
    let etag = format!("\"{epoch}\"");
    let mut response = if if_none_match(req, &etag) {
        not_modified()
    } else {
        json_response(StatusCode::OK, &schema)
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&epoch.to_string()) {
        headers.insert("rex-epoch", value);
    }
    Ok(response)
}
