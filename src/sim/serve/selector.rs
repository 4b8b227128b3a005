//! `labelSelector` and `fieldSelector` query parameters, parsed and matched as the apiserver
//! does (equality, set-based and existence requirements, comma-separated).

use super::status::ApiError;
use super::store::{Kind, Obj};
use crate::k8s::selector::Selector;

/// The `labelSelector` query parameter; a malformed one is a 400, as from the apiserver.
pub fn parse_labels(s: &str) -> Result<Selector, ApiError> {
    Selector::parse(s).map_err(|e| ApiError::bad_request(e.0))
}

/// A parsed field selector: `a=b`, `a==b`, `a!=b`, comma-separated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Fields other than metadata.name/namespace and the kind's own are refused, as the
    /// apiserver refuses them.
    pub fn parse(s: &str, kind: Option<Kind>) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for part in s.split(',') {
            let p = part.trim();
            let (field, eq, value) = if let Some((k, v)) = p.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = p.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = p.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{p}'"
                )));
            };
            let field = field.trim();
            let known = matches!(field, "metadata.name" | "metadata.namespace")
                || kind.is_some_and(|k| k.selectable_fields().contains(&field));
            if !known {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, obj: &Obj) -> bool {
        self.0.iter().all(|(f, eq, v)| {
            let actual = obj.field(f).unwrap_or_default();
            (actual == v) == *eq
        })
    }

    /// The name asked for by `metadata.name=` (lets metrics lists avoid building every pod).
    pub fn name(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, eq, _)| f == "metadata.name" && *eq)
            .map(|(_, _, v)| v.as_str())
    }

    /// Match a name/namespace pair (for objects not in the store, like PodMetrics).
    pub fn matches_meta(&self, namespace: &str, name: &str) -> bool {
        self.0.iter().all(|(f, eq, v)| {
            let actual = match f.as_str() {
                "metadata.name" => name,
                "metadata.namespace" => namespace,
                _ => "",
            };
            (actual == v) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selectors_match_like_the_apiserver() {
        let l = labels(&[("app", "frontend"), ("tier", "web")]);
        for (sel, want) in [
            ("", true),
            ("app=frontend", true),
            ("app==frontend", true),
            ("app!=frontend", false),
            ("app=frontend,tier=web", true),
            ("app in (frontend, checkout)", true),
            ("app notin (frontend)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app in (a,b),tier", false),
        ] {
            assert_eq!(parse_labels(sel).expect(sel).matches(&l), want, "{sel}");
        }
        assert_eq!(parse_labels("app=(x").map_err(|e| e.code), Err(400));
    }

    #[test]
    fn field_selectors_know_their_fields() {
        let f = FieldSelector::parse("metadata.name=frontend", Some(Kind::Deployment)).expect("ok");
        assert_eq!(f.name(), Some("frontend"));
        assert!(f.matches_meta("shop", "frontend"));
        assert!(!f.matches_meta("shop", "checkout"));
        let e = FieldSelector::parse("spec.replicas=3", Some(Kind::Deployment))
            .expect_err("unsupported");
        assert_eq!(e.message, "field label not supported: spec.replicas");
        assert!(FieldSelector::parse("status.phase!=Pending", Some(Kind::Pod)).is_ok());
    }
}
