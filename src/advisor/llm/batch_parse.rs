//! A batch reply taken apart (issue 13): the `{"recommendations": [...]}` object (directly, in
//! a fenced block, or inside prose), each item matched to its deployment by the namespace and
//! name the prompt gave it (placeholders when anonymized), and handed on as a single
//! decision's JSON, which the seed's parser reads like any one-deployment reply. An item
//! missing, unmatched or malformed is that deployment's failure only.

use serde_json::{Map, Value};

use super::schema::BATCH_KEY;

/// How the prompt named one deployment.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    pub namespace: String,
    pub name: String,
}

/// Each deployment's item (its decision's JSON, namespace and name removed), or why there is
/// none; `Err` when the reply holds no list of recommendations at all.
pub fn split(reply: &str, sections: &[Named]) -> Result<Vec<Result<String, String>>, String> {
    let items = recommendations(reply.trim()).ok_or_else(|| {
        format!(
            "batch reply has no \"{BATCH_KEY}\" list: {:?}",
            reply.chars().take(80).collect::<String>()
        )
    })?;
    let mut found: Vec<Option<Map<String, Value>>> = vec![None; sections.len()];
    for item in items {
        let Value::Object(mut obj) = item else {
            continue;
        };
        let text = |k: &str, obj: &Map<String, Value>| {
            obj.get(k)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_ascii_lowercase())
        };
        let (ns, name) = (text("namespace", &obj), text("name", &obj));
        let same = |a: &str, b: &Option<String>| b.as_deref() == Some(&a.to_ascii_lowercase());
        let exact = sections
            .iter()
            .position(|s| same(&s.namespace, &ns) && same(&s.name, &name));
        // A namespace misspelt or left out: the name alone, when only one deployment has it.
        let by_name = || {
            let mut hits = sections
                .iter()
                .enumerate()
                .filter(|(_, s)| same(&s.name, &name));
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        };
        let Some(i) = exact.or_else(by_name) else {
            continue;
        };
        if found[i].is_none() {
            obj.remove("namespace");
            obj.remove("name");
            found[i] = Some(obj);
        }
    }
    Ok(found
        .into_iter()
        .zip(sections)
        .map(|(item, s)| match item {
            Some(obj) => Ok(Value::Object(obj).to_string()),
            None => Err(format!(
                "the batch reply has no item for {}/{}",
                s.namespace, s.name
            )),
        })
        .collect())
}

/// The list of items: `{"recommendations": [...]}` (or a bare array) as the reply, inside a
/// fenced block, or from the first `{` or `[` to the last `}` or `]` of prose around it.
fn recommendations(text: &str) -> Option<Vec<Value>> {
    let direct = serde_json::from_str::<Value>(text).ok();
    let fenced = || {
        let start = text.find("```")?;
        let after = &text[start + 3..];
        let body = &after[after.find('\n')? + 1..];
        serde_json::from_str::<Value>(body[..body.find("```")?].trim()).ok()
    };
    let spanned = || {
        let a = text.find(['{', '['])?;
        let b = text.rfind(['}', ']'])?;
        (a < b)
            .then(|| serde_json::from_str::<Value>(&text[a..=b]).ok())
            .flatten()
    };
    match direct.or_else(fenced).or_else(spanned)? {
        Value::Array(items) => Some(items),
        Value::Object(mut obj) => match obj.remove(BATCH_KEY) {
            Some(Value::Array(items)) => Some(items),
            // Some models pick their own key: the one list of objects there is.
            _ => obj.into_iter().find_map(|(_, v)| match v {
                Value::Array(items) if items.iter().all(Value::is_object) => Some(items),
                _ => None,
            }),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(ns: &str, name: &str) -> Named {
        Named {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn items_are_matched_by_name_whatever_their_order_and_a_missing_one_fails_alone() {
        let sections = [
            named("ns-1", "deploy-1"),
            named("ns-1", "deploy-2"),
            named("ns-2", "deploy-3"),
        ];
        let reply = r#"{"recommendations": [
            {"namespace": "ns-1", "name": "deploy-2", "action": "scale_up", "target_replicas": 5},
            {"namespace": "NS-1", "name": "deploy-1", "action": "maintain", "target_replicas": 3},
            {"namespace": "ns-1", "name": "deploy-1", "action": "scale_down", "target_replicas": 1},
            {"namespace": "ns-9", "name": "deploy-9", "action": "maintain", "target_replicas": 2},
            "not an object"
        ]}"#;
        let got = split(reply, &sections).expect("a list");
        let first: Value = serde_json::from_str(got[0].as_ref().expect("item 1")).expect("json");
        assert_eq!(
            first["target_replicas"], 3,
            "the first item for a deployment wins"
        );
        assert!(first.get("name").is_none() && first.get("namespace").is_none());
        let second: Value = serde_json::from_str(got[1].as_ref().expect("item 2")).expect("json");
        assert_eq!(second["action"], "scale_up");
        assert_eq!(
            got[2],
            Err("the batch reply has no item for ns-2/deploy-3".into())
        );
    }

    #[test]
    fn the_list_is_found_in_fences_prose_or_bare_and_its_absence_is_an_error() {
        let sections = [named("shop", "web"), named("shop", "api")];
        let fenced = "Here you go:\n```json\n{\"recommendations\": [{\"namespace\": \"shop\", \
                      \"name\": \"api\", \"action\": \"maintain\"}]}\n```\n";
        let got = split(fenced, &sections).expect("fenced");
        assert!(got[0].is_err() && got[1].is_ok(), "{got:?}");
        let prose = "Sure. [{\"name\": \"web\", \"action\": \"maintain\"}] Done.";
        let got = split(prose, &sections).expect("bare array in prose");
        assert!(
            got[0].is_ok(),
            "a missing namespace matches a unique name: {got:?}"
        );
        let own_key =
            r#"{"decisions": [{"namespace": "shop", "name": "web", "action": "maintain"}]}"#;
        assert!(split(own_key, &sections).expect("own key")[0].is_ok());
        let single = r#"{"action": "maintain", "target_replicas": 3}"#;
        assert!(split(single, &sections).is_err());
        assert!(split("no json at all", &sections).is_err());
    }
}
