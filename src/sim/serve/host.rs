//! DNS-rebinding protection: `sim serve` listens on loopback without authentication, so a web
//! page whose domain an attacker re-points at 127.0.0.1 could otherwise read and scale the
//! simulated cluster from the user's browser. A browser always sends the page's own domain as
//! the Host, so requests are answered only when the Host names the loopback interface
//! (`localhost`, `127.0.0.1`/`127.x.y.z` or `[::1]`, any port).

use std::net::{Ipv4Addr, Ipv6Addr};

use http::request::Parts;
use http::{HeaderValue, header};

use super::status::ApiError;

fn is_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u16>().is_ok()
}

/// Whether a Host header value (or a URI authority) names the loopback interface.
pub fn is_loopback(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return false;
        };
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok && ip.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback());
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return false,
        None => host,
    };
    // A fully qualified `localhost.` is the same name.
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

fn refused(why: String) -> ApiError {
    ApiError {
        code: 403,
        reason: "Forbidden",
        message: format!(
            "{why}: ai4k8s sim serve listens on loopback and answers only requests addressed to \
             localhost, 127.0.0.1 or [::1] (any port), to protect against DNS rebinding"
        ),
        details: None,
    }
}

/// Refuse a request not addressed to a loopback name (403), or without a Host (400, as Go's
/// HTTP server answers an HTTP/1.1 request that has none).
pub fn check(parts: &Parts) -> Result<(), ApiError> {
    // An absolute-form target (`GET http://host/path`) overrides the Host header.
    if let Some(authority) = parts.uri.authority() {
        return if is_loopback(authority.as_str()) {
            Ok(())
        } else {
            Err(refused(format!(
                "host {:?} is not a loopback name",
                authority.as_str()
            )))
        };
    }
    let hosts: Vec<&HeaderValue> = parts.headers.get_all(header::HOST).iter().collect();
    match hosts.as_slice() {
        [] => Err(ApiError::bad_request("missing required Host header")),
        [one] => match one.to_str() {
            Ok(h) if is_loopback(h) => Ok(()),
            Ok(h) => Err(refused(format!("host {h:?} is not a loopback name"))),
            Err(_) => Err(refused("the Host header is not readable text".into())),
        },
        _ => Err(ApiError::bad_request("too many Host headers")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        for ok in [
            "localhost",
            "localhost:8001",
            "LocalHost:1",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:6443",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:6443",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8001",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:80",
            "0.0.0.0:80",
            "[::ffff:127.0.0.1]:80",
            "[::2]",
            "[::1",
            "[::1]x",
            "localhost:",
            "localhost:99999",
            "localhost:80:80",
            "::1",
        ] {
            assert!(!is_loopback(bad), "{bad}");
        }
    }

    fn parts(req: http::request::Builder) -> Parts {
        req.body(()).expect("request").into_parts().0
    }

    #[test]
    fn requests_are_checked_by_host_header_or_absolute_target() {
        let ok = parts(http::Request::get("/api").header("host", "127.0.0.1:4000"));
        assert_eq!(check(&ok), Ok(()));
        let e = check(&parts(
            http::Request::get("/api").header("host", "rebound.example:4000"),
        ))
        .expect_err("refused");
        assert_eq!((e.code, e.reason), (403, "Forbidden"));
        assert!(
            e.message
                .starts_with("host \"rebound.example:4000\" is not a loopback name")
        );
        let e = check(&parts(
            http::Request::get("http://evil.example/api").header("host", "localhost"),
        ))
        .expect_err("the target's authority wins");
        assert_eq!(e.code, 403);
        assert_eq!(
            check(&parts(http::Request::get("/api"))).map_err(|e| e.code),
            Err(400)
        );
        let two = parts(
            http::Request::get("/api")
                .header("host", "localhost")
                .header("host", "evil.example"),
        );
        assert_eq!(check(&two).map_err(|e| e.code), Err(400));
    }
}
