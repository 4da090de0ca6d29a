//! Static files: the JavaScript client and the app's pages, `GET`/`HEAD`
//! with `ETag` revalidation.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rex_proto::ErrorCode;

use super::error::{ApiError, ErrorHeader};
use super::request::if_none_match;
use super::Body;
use crate::server::assets::Asset;

/// Serves `asset`.
pub(crate) fn serve(req: &Request<Incoming>, asset: &Asset) -> Result<Response<Body>, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut error = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "{} is a file; use GET or HEAD, not {}",
                req.uri().path(),
                req.method()
            ),
        );
        error.header = Some(ErrorHeader::Allow("GET, HEAD"));
        return Err(error);
    }
    let etag = HeaderValue::from_str(&asset.etag).ok();
    let mut response = if if_none_match(req, &asset.etag) {
        not_modified()
    } else {
        let mut response = Response::new(Full::new(asset.body.clone()).boxed_unsync());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `304 Not Modified`, empty.
pub(crate) fn not_modified() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response
}
