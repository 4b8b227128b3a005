//! Label selectors, in both forms Kubernetes writes them: the structured `LabelSelector`
//! (`matchLabels` and `matchExpressions`, on deployments) and the `labelSelector` query string
//! (`app=web,tier in (a,b),!canary`). Both become one `Selector`, a list of requirements that
//! must all hold, as apimachinery's `labels.Selector`: an empty one matches everything.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn holds(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::Eq(k, v) => labels.get(k) == Some(v),
            Self::Ne(k, v) => labels.get(k) != Some(v),
            Self::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            // NotIn also matches objects without the key, as in Kubernetes.
            Self::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Self::Exists(k) => labels.contains_key(k),
            Self::NotExists(k) => !labels.contains_key(k),
        }
    }
}

/// A label selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    /// A structured selector with an operator Kubernetes does not know: `LabelSelectorAsSelector`
    /// refuses it and the controllers then match nothing.
    matches_nothing: bool,
}

/// A `labelSelector` string that does not parse; the message is the apiserver's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError(pub String);

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SelectorError {}

/// Split on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    vals.iter().all(|v| valid_value(v)).then_some(vals)
}

impl Selector {
    /// The `labelSelector` query string, as the apiserver parses it (equality, set-based and
    /// existence requirements, comma-separated).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let bad = |part: &str| {
            SelectorError(format!(
                "unable to parse requirement: found '{part}', expected: key, operator, or value"
            ))
        };
        let mut requirements = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self::default());
        }
        for part in split_top(s) {
            let p = part.trim();
            let req = if let Some(k) = p.strip_prefix('!') {
                Requirement::NotExists(k.trim().to_string())
            } else if let Some((k, v)) = p.split_once("!=") {
                Requirement::Ne(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = p.split_once("==") {
                Requirement::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = p.split_once('=') {
                Requirement::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = p.split_once(" notin ") {
                Requirement::NotIn(k.trim().to_string(), set_values(v).ok_or_else(|| bad(p))?)
            } else if let Some((k, v)) = p.split_once(" in ") {
                Requirement::In(k.trim().to_string(), set_values(v).ok_or_else(|| bad(p))?)
            } else {
                Requirement::Exists(p.to_string())
            };
            let (key, value) = match &req {
                Requirement::Eq(k, v) | Requirement::Ne(k, v) => (k, Some(v)),
                Requirement::In(k, _)
                | Requirement::NotIn(k, _)
                | Requirement::Exists(k)
                | Requirement::NotExists(k) => (k, None),
            };
            if !valid_key(key) || value.is_some_and(|v| !valid_value(v)) {
                return Err(bad(p));
            }
            requirements.push(req);
        }
        Ok(Self {
            requirements,
            matches_nothing: false,
        })
    }

    /// A structured selector, as apimachinery's `LabelSelectorAsSelector` reads it: matchLabels
    /// first, then matchExpressions; an unknown operator matches nothing.
    pub fn from_label_selector(selector: &LabelSelector) -> Self {
        let mut out = Self::default();
        for (k, v) in selector.match_labels.iter().flatten() {
            out.requirements.push(Requirement::Eq(k.clone(), v.clone()));
        }
        for e in selector.match_expressions.iter().flatten() {
            let key = e.key.clone();
            let values = || e.values.clone().unwrap_or_default();
            out.requirements.push(match e.operator.as_str() {
                "In" => Requirement::In(key, values()),
                "NotIn" => Requirement::NotIn(key, values()),
                "Exists" => Requirement::Exists(key),
                "DoesNotExist" => Requirement::NotExists(key),
                _ => {
                    out.matches_nothing = true;
                    continue;
                }
            });
        }
        out
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.holds(labels))
    }

    /// One `key=value` the selector requires, to narrow candidates through an index.
    pub fn required_label(&self) -> Option<(&str, &str)> {
        self.requirements.iter().find_map(|r| match r {
            Requirement::Eq(k, v) => Some((k.as_str(), v.as_str())),
            Requirement::In(k, vs) if vs.len() == 1 => Some((k.as_str(), vs[0].as_str())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Whether `labels` satisfy a structured selector.
    fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
        Selector::from_label_selector(selector).matches(labels)
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn match_labels_and_expressions_all_must_hold() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["frontend", "edge"]),
                expr("canary", "DoesNotExist", &[]),
                expr("env", "NotIn", &["dev"]),
                expr("team", "Exists", &[]),
            ]),
        };
        let base = [("app", "web"), ("tier", "edge"), ("team", "a")];
        assert!(matches(&sel, &labels(&base)));
        assert!(
            matches(&sel, &labels(&[("env", "prod"), base[0], base[1], base[2]])),
            "NotIn with another value"
        );
        assert!(!matches(
            &sel,
            &labels(&[("env", "dev"), base[0], base[1], base[2]])
        ));
        assert!(!matches(&sel, &labels(&[("app", "api"), base[1], base[2]])));
        assert!(!matches(
            &sel,
            &labels(&[base[0], ("tier", "back"), base[2]])
        ));
        assert!(!matches(&sel, &labels(&[base[0], base[1]])), "team missing");
        assert!(!matches(
            &sel,
            &labels(&[("canary", "1"), base[0], base[1], base[2]])
        ));
    }

    #[test]
    fn empty_selector_matches_everything_and_unknown_operators_nothing() {
        assert!(matches(&LabelSelector::default(), &labels(&[("a", "b")])));
        assert!(matches(&LabelSelector::default(), &BTreeMap::new()));
        let bad = LabelSelector {
            match_expressions: Some(vec![expr("a", "Like", &["b"])]),
            ..LabelSelector::default()
        };
        assert!(!matches(&bad, &labels(&[("a", "b")])));
        let not_in = LabelSelector {
            match_expressions: Some(vec![expr("a", "NotIn", &["x"])]),
            ..LabelSelector::default()
        };
        assert!(
            matches(&not_in, &BTreeMap::new()),
            "NotIn matches absent keys"
        );
    }

    #[test]
    fn required_label_comes_from_match_labels_or_a_single_in() {
        let a = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            ..LabelSelector::default()
        };
        assert_eq!(
            Selector::from_label_selector(&a).required_label(),
            Some(("app", "web"))
        );
        let b = LabelSelector {
            match_expressions: Some(vec![expr("app", "In", &["api"])]),
            ..LabelSelector::default()
        };
        assert_eq!(
            Selector::from_label_selector(&b).required_label(),
            Some(("app", "api"))
        );
        let c = LabelSelector {
            match_expressions: Some(vec![expr("app", "In", &["a", "b"])]),
            ..LabelSelector::default()
        };
        assert_eq!(Selector::from_label_selector(&c).required_label(), None);
    }
}
