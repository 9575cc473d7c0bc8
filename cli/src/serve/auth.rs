//! Who may ask what.
//!
//! - Without a token the server only listens on loopback (checked at
//!   start), and only answers requests whose Host is a loopback name: a
//!   web page elsewhere that points its own DNS name at 127.0.0.1 (DNS
//!   rebinding) cannot read or drive the dashboard.
//! - With a token every request carries it: `Authorization: Bearer T`
//!   (scripts, Prometheus), or the cookie that visiting any page with
//!   `?token=T` sets (browsers; HttpOnly, SameSite=Strict).
//! - Every action is a POST. Unless it came with a Bearer token (which a
//!   browser never sends on its own, so it cannot be forged cross-site) it
//!   must carry the server's random CSRF token in `X-CSRF-Token`, and an
//!   `Origin` or `Sec-Fetch-Site` that says it came from this origin.
//! - `--read-only` refuses every POST.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Shared;

/// How the request proved itself.
#[derive(PartialEq)]
enum Proof {
    /// No token is configured (loopback only).
    Open,
    Bearer,
    Cookie,
}

pub async fn guard(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let mut response = match check(&app, &req) {
        None => next.run(req).await,
        Some(refusal) => refusal,
    };
    let h = response.headers_mut();
    // The pages load nothing from elsewhere and run no inline script; they
    // may not be framed (the action buttons must not be clickjacked), and
    // URLs never leak through Referer.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The response that refuses the request, or None to let it through.
fn check(app: &Shared, req: &Request) -> Option<Response> {
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let proof = match &app.token {
        None if !is_loopback_host(host) => {
            return Some(refuse(StatusCode::FORBIDDEN, &format!("Host {host:?} is not a loopback name")));
        }
        None => Proof::Open,
        Some(token) => {
            let query = Query::<std::collections::HashMap<String, String>>::try_from_uri(req.uri())
                .map(|q| q.0)
                .unwrap_or_default();
            if let Some(given) = query.get("token") {
                if !same(given, token) {
                    return Some(refuse(StatusCode::FORBIDDEN, "wrong token"));
                }
                if req.method() == Method::GET {
                    // Keep the token out of the address bar and history.
                    // One leading slash: "//host/" would be a redirect to another site.
                    let path = format!("/{}", req.uri().path().trim_start_matches('/'));
                    return Some(with_cookie(&path, &app.cookie, token));
                }
                Proof::Bearer
            } else if let Some(given) = bearer(headers) {
                if !same(given, token) {
                    return Some(refuse(StatusCode::FORBIDDEN, "wrong token"));
                }
                Proof::Bearer
            } else if let Some(given) = cookie(headers, &app.cookie) {
                if !same(given, token) {
                    return Some(refuse(
                        StatusCode::FORBIDDEN,
                        "wrong token (clear the cookie or visit /?token=…)",
                    ));
                }
                Proof::Cookie
            } else {
                return Some(unauthorized(headers));
            }
        }
    };
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return None;
    }
    if app.read_only {
        return Some(refuse(StatusCode::FORBIDDEN, "this server is read-only (--read-only)"));
    }
    if proof == Proof::Bearer {
        return None;
    }
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !same(csrf, &app.csrf) {
        return Some(refuse(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let own = [format!("http://{host}"), format!("https://{host}")];
        if !own.iter().any(|o| o == origin) {
            return Some(refuse(StatusCode::FORBIDDEN, &format!("cross-origin request from {origin}")));
        }
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin") | Some("none") => None,
        Some(site) => Some(refuse(StatusCode::FORBIDDEN, &format!("cross-site request ({site})"))),
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// 401: a short page for people, JSON for programs.
fn unauthorized(headers: &HeaderMap) -> Response {
    let html =
        headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let mut response = if html {
        (
            StatusCode::UNAUTHORIZED,
            Html(
                "<!doctype html><title>orq: token required</title><h1>Token required</h1>\
                 <p>This orq server needs its token: open <code>/?token=YOUR_TOKEN</code> once \
                 (it is kept in a cookie), or send <code>Authorization: Bearer YOUR_TOKEN</code>.</p>",
            ),
        )
            .into_response()
    } else {
        refuse(StatusCode::UNAUTHORIZED, "token required (Authorization: Bearer T, or visit /?token=T)")
    };
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// 303 to `path` (the query, token and all, dropped) setting the cookie.
fn with_cookie(path: &str, name: &str, token: &str) -> Response {
    let cookie = format!("{name}={token}; Path=/; HttpOnly; SameSite=Strict");
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (HeaderValue::from_str(path), HeaderValue::from_str(&cookie)) {
        h.insert(header::LOCATION, location);
        h.insert(header::SET_COOKIE, cookie);
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name`: the Cookie header is `a=1; b=2` (RFC 6265
/// 4.2.1), and hyper hands us the header, not the pairs.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Loopback names only: `localhost`, 127.0.0.0/8, `[::1]`, with any port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Compares secrets in time independent of where they differ.
fn same(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Tokens travel in a cookie and a header: visible ASCII without the
/// characters a cookie value cannot hold.
pub fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\'))
}

/// `bytes` random bytes from the OS, in hex.
pub fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness for the CSRF token: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "localhost:8080", "127.0.0.1:1", "127.1.2.3", "[::1]:80", "[::1]"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["", "example.com", "evil.localhost.example:80", "10.0.0.1:8080", "[::2]:80", "0.0.0.0"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn secrets_and_cookies() {
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("x=1; orq_token_80=s3cret; y=2"));
        assert_eq!(cookie(&h, "orq_token_80"), Some("s3cret"));
        assert_eq!(cookie(&h, "orq_token_81"), None);
        assert!(valid_token("a-B_9.~+/=") && !valid_token("a b") && !valid_token("a;b") && !valid_token(""));
    }
}
