//! Reading recorded request paths the way a server does.

/// Form-decodes one query parameter of a recorded path ('+' is a space, as servers read it).
pub fn query_param(path: &str, name: &str) -> Option<String> {
    let uri: http::Uri = path.parse().ok()?;
    let query = uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
