//! The HTML page set: a shared layout, HTML escaping and the security headers every page and
//! browser redirect carries.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `Content-Security-Policy` of every page: nothing loads, inline styles only, forms post
/// only to this origin, never framed.
pub(crate) const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// `Content-Security-Policy` of the account pages (and of the sign-in page when passkeys are
/// on): that of every page, plus scripts from this origin only (the pages' one static script;
/// never an inline script), which may call this origin only (its WebAuthn ceremonies).
pub(crate) const ACCOUNT_CSP: &str = "default-src 'none'; script-src 'self'; \
connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

/// The style sheet every page carries inline.
pub(crate) const STYLE: &str =
    "body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;\
padding:0 1rem;color:#222}h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}\
input{width:100%;padding:.45rem;box-sizing:border-box;font-size:1rem}\
button{margin:1.2rem .6rem 0 0;padding:.5rem 1.3rem;font-size:1rem}\
.error{color:#a00;border:1px solid #a00;padding:.5rem}.code{font-family:monospace;font-size:1.3rem}\
ul{padding-left:1.2rem}";

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Adds the security headers of browser-facing answers (pages and redirects).
pub(crate) fn secure_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A full page: `title` is escaped here, `body` must already be safe HTML.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_with_head(status, title, "", body)
}

/// A full page that loads the static script at `script` (a path of this server), under
/// [`ACCOUNT_CSP`].
pub(crate) fn page_with_script(
    status: StatusCode,
    title: &str,
    body: &str,
    script: &str,
) -> Response {
    let head = format!("<script src=\"{}\" defer></script>", escape(script));
    let mut response = page_with_head(status, title, &head, body);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ACCOUNT_CSP),
    );
    response
}

/// A page that sends the browser on to `location` (a URI the core returned) by meta refresh,
/// with a link as fallback. Used after form posts instead of a redirect: browsers apply the
/// form's `form-action 'self'` to redirects that follow a submission, so a 303 to the client
/// would be blocked; a refresh is a new navigation that the policy does not govern.
pub(crate) fn continue_page(location: &str) -> Response {
    let url = escape(location);
    page_with_head(
        StatusCode::OK,
        "Returning to the application",
        &format!("<meta http-equiv=\"refresh\" content=\"0;url={url}\">"),
        &format!("<p><a href=\"{url}\">Continue to the application</a></p>"),
    )
}

/// A full page with extra (already safe) elements in its head.
fn page_with_head(status: StatusCode, title: &str, head: &str, body: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
<title>{title}</title><style>{STYLE}</style></head>\
<body><main><h1>{title}</h1>\n{body}\n</main></body></html>\n"
    );
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response();
    secure_headers(response.headers_mut());
    response
}

/// A paragraph of escaped text, styled as an error when `error` is set.
pub(crate) fn message(text: &str, error: bool) -> String {
    if error {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(text))
    } else {
        format!("<p>{}</p>", escape(text))
    }
}

/// A hidden form field.
pub(crate) fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        escape(name),
        escape(value)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\" onclick='y'>&</a>"),
            "&lt;a href=&quot;x&quot; onclick=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn pages_carry_the_security_headers() {
        let r = page(StatusCode::OK, "<t>", "<p>x</p>");
        let h = r.headers();
        assert_eq!(
            h.get(header::CONTENT_SECURITY_POLICY)
                .and_then(|v| v.to_str().ok()),
            Some(CSP)
        );
        assert_eq!(
            h.get(header::X_FRAME_OPTIONS).and_then(|v| v.to_str().ok()),
            Some("DENY")
        );
        assert_eq!(
            h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
    }
}
