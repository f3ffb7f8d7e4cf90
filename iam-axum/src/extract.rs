//! Strict request extractors whose rejections are [`ApiError`] JSON bodies, never axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body: requires `Content-Type: application/json`, respects the body limit, and
/// answers malformed JSON (400), missing/unknown/mistyped fields (422), other media types (415)
/// and oversized bodies (413) with JSON errors. Pair it with `#[serde(deny_unknown_fields)]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

fn is_json(parts: &axum::http::HeaderMap) -> bool {
    let Some(ct) = parts
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence
                .get(essence.len() - 5..)
                .is_some_and(|t| t.eq_ignore_ascii_case("+json"))
            && essence
                .get(..12)
                .is_some_and(|t| t.eq_ignore_ascii_case("application/")))
}

/// Maps a failed body read (limit exceeded, connection fault) to a JSON error.
fn body_rejection(r: &BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        ApiError::bad_request("the request body could not be read")
    }
}

/// Parses `bytes` as JSON into `T`, distinguishing syntax errors from shape errors. Every
/// body of the API is a JSON object: serde would also read a struct from an array of its
/// fields' values (`["alice", "pw"]`), which no schema describes, so anything but an object
/// is refused.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        let shape = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the request body must be a JSON object",
        );
        return Err(serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .map_or_else(|e| syntax_or_shape(&e), |_| shape));
    }
    serde_json::from_slice(bytes).map_err(|e| syntax_or_shape(&e))
}

/// The answer to a body serde could not read: 400 for what is not JSON, 422 for JSON of
/// another shape.
fn syntax_or_shape(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the request body is not valid JSON",
        ),
        Category::Data => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            // serde's data errors name the field and the expectation; they echo no values.
            format!("the request body does not fit: {e}"),
        ),
    }
}

impl<T, St> FromRequest<St> for ApiJson<T>
where
    T: DeserializeOwned,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| body_rejection(&r))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: an empty body gives `T::default()`, anything else is parsed like [`ApiJson`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T, St> FromRequest<St> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| body_rejection(&r))?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        if !json || !has_type {
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Path parameters with a JSON rejection.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, St> FromRequestParts<St> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::bad_request("invalid path parameter"))
    }
}

/// A query string with a JSON rejection.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, St> FromRequestParts<St> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("the query string does not fit: {}", e.body_text()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(ct: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        h
    }

    #[test]
    fn bodies_are_json_objects() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Two {
            a: Option<String>,
            b: Option<String>,
        }
        let code = |body: &str| parse_json::<Two>(body.as_bytes()).map_err(|e| (e.status, e.code));
        assert!(code(r#" {"a": "x"}"#).is_ok());
        let shape = Err((StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"));
        assert_eq!(code("[null, null]").map(|_| ()), shape);
        assert_eq!(code("\"x\"").map(|_| ()), shape);
        let syntax = Err((StatusCode::BAD_REQUEST, "malformed_json"));
        assert_eq!(code("[null,").map(|_| ()), syntax);
        assert_eq!(code("").map(|_| ()), syntax);
    }

    #[test]
    fn json_media_types() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("application/json; charset=utf-8")));
        assert!(is_json(&headers("Application/JSON")));
        assert!(is_json(&headers("application/merge-patch+json")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/x-www-form-urlencoded")));
        assert!(!is_json(&headers("json")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
