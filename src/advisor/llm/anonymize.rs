//! Anonymization (as K8sGPT's `--anonymize`): namespaces and names leave the process only as
//! stable placeholders (`ns-1`, `deploy-3`, `hpa-2`), and placeholders in what the model writes
//! are turned back into the real names before anyone reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Real name → placeholder, per kind. Kept in the state file so placeholders stay stable across
/// restarts (the file is local; it never leaves the machine).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Anonymizer {
    namespaces: BTreeMap<String, String>,
    deployments: BTreeMap<String, String>,
    hpas: BTreeMap<String, String>,
}

const PREFIXES: [&str; 3] = ["ns-", "deploy-", "hpa-"];

impl Anonymizer {
    pub fn namespace(&mut self, real: &str) -> String {
        placeholder(&mut self.namespaces, "ns", real)
    }

    pub fn deployment(&mut self, real: &str) -> String {
        placeholder(&mut self.deployments, "deploy", real)
    }

    /// An HPA named like its deployment (the common case) shares its placeholder.
    pub fn hpa(&mut self, real: &str, deployment_real: &str) -> String {
        if real == deployment_real {
            return self.deployment(deployment_real);
        }
        placeholder(&mut self.hpas, "hpa", real)
    }

    /// `text` with every known placeholder replaced by its real name. A placeholder only counts
    /// as a whole token, so `deploy-1` never matches inside `deploy-12`.
    pub fn restore(&self, text: &str) -> String {
        let reverse: BTreeMap<&str, &str> = self
            .namespaces
            .iter()
            .chain(&self.deployments)
            .chain(&self.hpas)
            .map(|(real, ph)| (ph.as_str(), real.as_str()))
            .collect();
        let mut out = String::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < text.len() {
            let boundary_before = i == 0 || !is_word(bytes[i - 1]);
            if boundary_before && let Some(len) = placeholder_len(&text[i..]) {
                let token = &text[i..i + len];
                if let Some(real) = reverse.get(token) {
                    out.push_str(real);
                    i += len;
                    continue;
                }
            }
            // Advance by one whole character (text may hold multi-byte UTF-8).
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
        out
    }

    /// The first real name this anonymizer knows that occurs in `text` (a check for tests).
    #[cfg(test)]
    pub fn leaks(&self, text: &str) -> Option<&str> {
        self.namespaces
            .keys()
            .chain(self.deployments.keys())
            .chain(self.hpas.keys())
            .find(|real| text.contains(real.as_str()))
            .map(String::as_str)
    }
}

fn placeholder(map: &mut BTreeMap<String, String>, kind: &str, real: &str) -> String {
    if let Some(p) = map.get(real) {
        return p.clone();
    }
    let p = format!("{kind}-{}", map.len() + 1);
    map.insert(real.to_string(), p.clone());
    p
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Length of a `prefix-digits` token at the start of `s` that ends at a word boundary.
fn placeholder_len(s: &str) -> Option<usize> {
    let prefix = PREFIXES.iter().find(|p| s.starts_with(**p))?;
    let digits = s[prefix.len()..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 0 {
        return None;
    }
    let len = prefix.len() + digits;
    match s.as_bytes().get(len) {
        Some(&b) if is_word(b) => None,
        _ => Some(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_stable_and_distinct() {
        let mut a = Anonymizer::default();
        assert_eq!(a.namespace("payments"), "ns-1");
        assert_eq!(a.deployment("checkout"), "deploy-1");
        assert_eq!(a.deployment("ledger"), "deploy-2");
        assert_eq!(a.deployment("checkout"), "deploy-1");
        assert_eq!(a.hpa("checkout", "checkout"), "deploy-1");
        assert_eq!(a.hpa("checkout-hpa", "checkout"), "hpa-1");
    }

    #[test]
    fn restore_replaces_whole_tokens_only() {
        let mut a = Anonymizer::default();
        a.namespace("payments");
        for i in 0..12 {
            a.deployment(&format!("app{i}"));
        }
        let text = "Scale deploy-1 in ns-1 (not deploy-12, nor xdeploy-1, nor deploy-1b); ns-1/deploy-2. é";
        assert_eq!(
            a.restore(text),
            "Scale app0 in payments (not app11, nor xdeploy-1, nor deploy-1b); payments/app1. é"
        );
        assert_eq!(a.restore("deploy-99 unknown"), "deploy-99 unknown");
        assert_eq!(a.leaks("all about app3 here"), Some("app3"));
        assert_eq!(a.leaks("deploy-4 only"), None);
    }
}
