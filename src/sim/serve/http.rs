//! HTTP plumbing shared by the handlers: bodies, JSON responses, Status errors, query strings
//! and the content negotiation kubectl and kube-rs rely on (JSON, server-side Tables,
//! PartialObjectMetadata, aggregated discovery).

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use super::status::ApiError;

/// A response body. Its error cuts the connection mid-response (a dropped watch).
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn respond(code: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn json(code: u16, body: impl Into<Bytes>) -> Response<Body> {
    respond(code, "application/json", body)
}

pub fn error(e: &ApiError) -> Response<Body> {
    json(e.code, e.to_json())
}

/// Query parameters, percent-decoded; the last of a repeated key wins.
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in q.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(k, true), percent_decode(v, true));
        }
        Self(map)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// `watch=true` / `watch=1` and the other boolean spellings Go's ParseBool accepts.
    pub fn flag(&self, k: &str) -> bool {
        matches!(
            self.get(k),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }

    pub fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {k}: {v:?} is not an integer"))
            }),
        }
    }

    /// `dryRun=All` (the only value the apiserver accepts).
    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value {v:?}: supported values: \"All\""
            ))),
        }
    }
}

/// The representation a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Json,
    /// meta.k8s.io Table, in the asked version (v1 or v1beta1).
    Table(&'static str),
    /// meta.k8s.io PartialObjectMetadata(List).
    Partial(&'static str),
    /// apidiscovery.k8s.io/v2 aggregated discovery.
    Discovery,
}

impl Media {
    pub fn content_type(self) -> String {
        match self {
            Media::Json => "application/json".into(),
            Media::Table(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
            Media::Partial(v) => {
                format!("application/json;as=PartialObjectMetadataList;v={v};g=meta.k8s.io")
            }
            Media::Discovery => super::discovery::aggregated::CONTENT_TYPE.into(),
        }
    }
}

/// Which alternatives the endpoint can produce besides plain JSON.
#[derive(Clone, Copy, Debug, Default)]
pub struct Offers {
    pub table: bool,
    pub partial: bool,
    pub discovery: bool,
}

/// The first media type in `accept` this endpoint can produce (clients list preferred first).
pub fn negotiate(accept: &str, offers: Offers) -> Result<Media, ApiError> {
    if accept.trim().is_empty() {
        return Ok(Media::Json);
    }
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: HashMap<String, String> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        if !matches!(media.as_str(), "application/json" | "*/*" | "application/*") {
            continue;
        }
        let version = match params.get("v").map(String::as_str) {
            Some("v1") => Some("v1"),
            Some("v1beta1") => Some("v1beta1"),
            _ => None,
        };
        let group = params.get("g").map(String::as_str);
        match params.get("as").map(String::as_str) {
            None => return Ok(Media::Json),
            Some("Table") if offers.table && group == Some("meta.k8s.io") => {
                if let Some(v) = version {
                    return Ok(Media::Table(v));
                }
            }
            Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                if offers.partial && group == Some("meta.k8s.io") =>
            {
                if let Some(v) = version {
                    return Ok(Media::Partial(v));
                }
            }
            Some("APIGroupDiscoveryList")
                if offers.discovery
                    && group == Some("apidiscovery.k8s.io")
                    && params.get("v").map(String::as_str) == Some("v2") =>
            {
                return Ok(Media::Discovery);
            }
            _ => {}
        }
    }
    // Only JSON is served (protobuf and YAML are not).
    Err(ApiError::not_acceptable(&["application/json"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_clients_preference() {
        let all = Offers {
            table: true,
            partial: true,
            discovery: true,
        };
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(kubectl_get, all), Ok(Media::Table("v1")));
        assert_eq!(
            negotiate(kubectl_get, Offers::default()),
            Ok(Media::Json),
            "falls back to JSON"
        );
        let discovery = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(negotiate(discovery, all), Ok(Media::Discovery));
        assert_eq!(
            negotiate(
                "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
                all
            ),
            Ok(Media::Partial("v1"))
        );
        assert_eq!(negotiate("", all), Ok(Media::Json));
        assert_eq!(negotiate("*/*", all), Ok(Media::Json));
        assert_eq!(
            negotiate("application/vnd.kubernetes.protobuf", all).map_err(|e| e.code),
            Err(406)
        );
    }

    #[test]
    fn queries_decode() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dfrontend%2Ctier+in+%28a%29&watch=1&timeoutSeconds=2&dryRun=All",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=frontend,tier in (a)"));
        assert!(q.flag("watch"));
        assert_eq!(q.int("timeoutSeconds"), Ok(Some(2)));
        assert_eq!(q.dry_run(), Ok(true));
        assert_eq!(
            Query::parse(Some("dryRun=x")).dry_run().map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("a%2", false), "a%2");
    }
}
