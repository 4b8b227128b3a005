//! The endpoint: `{base_url}/chat/completions`, HTTPS required except to loopback (the key
//! would otherwise cross the network in clear), and whether anonymization is on by default
//! (it is for everything that is not loopback).

use std::net::IpAddr;

use url::Url;

use super::error::LlmSetupError;

#[derive(Clone)]
pub struct Endpoint {
    /// `{base_url}/chat/completions`
    pub chat_url: Url,
    /// Base URL without user:password, query or key-like tokens, for messages.
    pub display: String,
    pub loopback: bool,
}

/// Shows the redacted base URL only: `chat_url` keeps any user:password the config gave.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.display)
            .field("loopback", &self.loopback)
            .finish()
    }
}

impl Endpoint {
    pub fn parse(base_url: &str) -> Result<Self, LlmSetupError> {
        let bad = |reason: &str| LlmSetupError::BadUrl {
            url: redact(base_url),
            reason: reason.into(),
        };
        let base = Url::parse(base_url.trim()).map_err(|e| bad(&e.to_string()))?;
        let loopback = match base.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => return Err(bad("no host")),
        };
        let display = redact(base.as_str());
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(LlmSetupError::InsecureUrl { url: display }),
            other => return Err(bad(&format!("scheme {other}: is not http(s)"))),
        }
        let mut chat_url = base.clone();
        let path = format!("{}/chat/completions", base.path().trim_end_matches('/'));
        chat_url.set_path(&path);
        Ok(Self {
            chat_url,
            display: display.trim_end_matches('/').to_string(),
            loopback,
        })
    }

    /// `anonymize` from the config, or on unless the endpoint is loopback.
    pub fn anonymize(&self, configured: Option<bool>) -> bool {
        configured.unwrap_or(!self.loopback)
    }
}

/// `url` without user:password, query or fragment (someone may have put a key there).
fn redact(url: &str) -> String {
    crate::redact::url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_url_and_loopback() {
        let e = Endpoint::parse("https://api.groq.com/openai/v1").expect("groq");
        assert_eq!(
            e.chat_url.as_str(),
            "https://api.groq.com/openai/v1/chat/completions"
        );
        assert!(!e.loopback && e.anonymize(None) && !e.anonymize(Some(false)));
        for local in [
            "http://127.0.0.1:8080/v1/",
            "http://127.3.4.5/v1",
            "http://[::1]:11434/v1",
            "http://localhost:8000/v1",
        ] {
            let e = Endpoint::parse(local).expect(local);
            assert!(e.loopback && !e.anonymize(None), "{local}");
            assert!(
                e.chat_url.path().ends_with("/v1/chat/completions"),
                "{local}"
            );
        }
    }

    #[test]
    fn plain_http_elsewhere_is_refused_without_echoing_credentials() {
        let e = Endpoint::parse("http://user:sk-secret@10.0.0.5:8000/v1").expect_err("insecure");
        let text = e.to_string();
        assert!(text.contains("use https://"), "{text}");
        assert!(
            !text.contains("sk-secret") && !text.contains("user"),
            "{text}"
        );
        assert!(Endpoint::parse("ftp://x/v1").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }
}
