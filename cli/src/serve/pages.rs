//! The dashboard: one HTML shell for every page (the script draws the page
//! the path names from the JSON endpoints), a script and a style sheet,
//! all compiled in: no build step, nothing loaded from elsewhere.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::Shared;

const INDEX: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// Any page: the shell with this server's CSRF token and settings.
pub async fn page(State(app): State<Shared>) -> Html<String> {
    let db = app.source.db();
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Html(
        INDEX
            .replace("{{csrf}}", &app.csrf)
            .replace("{{read_only}}", if app.read_only { "true" } else { "false" })
            .replace("{{interval_ms}}", &app.interval.as_millis().to_string())
            .replace("{{db_path}}", &escape(&app.source.describe()))
            .replace("{{db}}", &escape(&name)),
    )
}

pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    // no-cache: revalidate, so a new orq binary's assets are used at once.
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
