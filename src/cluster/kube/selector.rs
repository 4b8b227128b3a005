//! Label selectors (`matchLabels` and `matchExpressions`) evaluated the way apimachinery's
//! `LabelSelectorAsSelector` does: every requirement must hold; an empty selector matches
//! everything; an unknown operator matches nothing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && selector.match_expressions.iter().flatten().all(|e| {
            let value = labels.get(&e.key);
            let listed = |v: &String| e.values.iter().flatten().any(|x| x == v);
            match e.operator.as_str() {
                "In" => value.is_some_and(listed),
                // NotIn also matches objects without the key, as in Kubernetes.
                "NotIn" => !value.is_some_and(listed),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// One `key=value` the selector requires, to narrow candidates through an index.
pub fn required_label(selector: &LabelSelector) -> Option<(&str, &str)> {
    if let Some((k, v)) = selector.match_labels.as_ref().and_then(|m| m.iter().next()) {
        return Some((k.as_str(), v.as_str()));
    }
    selector.match_expressions.iter().flatten().find_map(|e| {
        match (e.operator.as_str(), e.values.as_deref()) {
            ("In", Some([only])) => Some((e.key.as_str(), only.as_str())),
            _ => None,
        }
    })
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
        assert_eq!(required_label(&a), Some(("app", "web")));
        let b = LabelSelector {
            match_expressions: Some(vec![expr("app", "In", &["api"])]),
            ..LabelSelector::default()
        };
        assert_eq!(required_label(&b), Some(("app", "api")));
        let c = LabelSelector {
            match_expressions: Some(vec![expr("app", "In", &["a", "b"])]),
            ..LabelSelector::default()
        };
        assert_eq!(required_label(&c), None);
    }
}
