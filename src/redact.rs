//! Key material out of everything shown or logged: what an LLM server sends back and URLs
//! in messages (config errors, endpoint names).
//! Servers quote keys in their own ways (OpenAI's 401 says "Incorrect API key provided:
//! gsk_barc***7731"), so the exact key is not enough: key-like tokens (`gsk_…`, `sk-…`,
//! `Bearer …`, `api_key=…`) go, and so does any run of 4 or more characters matching the
//! start or the end of the configured key, which is what masked forms keep.

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
/// Shortest start or end of the key treated as a piece of it.
const MIN_FRAGMENT: usize = 4;

/// Redacts one configured key and key-like tokens.
#[derive(Clone, Default)]
pub struct Redactor {
    key: Vec<char>,
}

impl Redactor {
    pub fn new(key: &str) -> Self {
        Self {
            key: key.trim().chars().collect(),
        }
    }

    /// `text` with key fragments and key-like tokens replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        self.fragments(&tokens(text))
    }

    /// Pieces of the configured key (its first or last `MIN_FRAGMENT`+ characters) removed.
    fn fragments(&self, text: &str) -> String {
        if self.key.len() < MIN_FRAGMENT {
            return text.to_string();
        }
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let here = &chars[i..];
            let len = longest_key_prefix(here, &self.key).max(longest_key_suffix(here, &self.key));
            if len >= MIN_FRAGMENT {
                // The rest of the word goes too: the masked middle and the other end.
                out.push_str(REDACTED);
                i += len + token_run(&chars[i + len..]);
            } else {
                out.push(chars[i]);
                i += 1;
            }
        }
        out
    }
}

/// How many characters at the start of `text` equal the key's first characters.
fn longest_key_prefix(text: &[char], key: &[char]) -> usize {
    text.iter().zip(key).take_while(|(a, b)| a == b).count()
}

/// The longest end of the key (at least `MIN_FRAGMENT` long) that `text` starts with.
fn longest_key_suffix(text: &[char], key: &[char]) -> usize {
    (MIN_FRAGMENT..=key.len().min(text.len()))
        .rev()
        .find(|&n| text[..n] == key[key.len() - n..])
        .unwrap_or(0)
}

/// Characters a key or a masked key is made of.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.*~+/=…".contains(c)
}

/// Length of the token starting `s`, without a sentence's closing dots.
fn token_run(s: &[char]) -> usize {
    let n = s.iter().take_while(|c| is_token_char(**c)).count();
    n - s[..n].iter().rev().take_while(|c| **c == '.').count()
}

/// Key-like tokens replaced: `gsk_…`, `sk-…` (OpenAI, also `sk-proj-…`), `xai-…`, the word
/// after `Bearer`, and the value of `api_key=`, `api-key:`, `key=`, `token=` and the like.
pub fn tokens(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if boundary && let Some(skip) = secret_at(&chars[i..]) {
            out.extend(&chars[i..i + skip.keep]);
            out.push_str(REDACTED);
            i += skip.keep + skip.secret;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

struct Skip {
    /// Characters kept before the secret ("Bearer ", "api_key=").
    keep: usize,
    secret: usize,
}

fn secret_at(s: &[char]) -> Option<Skip> {
    let token_len = |from: usize| token_run(&s[from..]);
    for prefix in ["gsk_", "sk-", "xai-"] {
        if starts_with_ignore_case(s, prefix) {
            let n = prefix.chars().count();
            let rest = token_len(n);
            if rest > 0 {
                return Some(Skip {
                    keep: 0,
                    secret: n + rest,
                });
            }
        }
    }
    for word in ["bearer", "basic"] {
        let n = word.len();
        if starts_with_ignore_case(s, word) && s.get(n).is_some_and(|c| *c == ' ') {
            let spaces = s[n..].iter().take_while(|c| **c == ' ').count();
            let rest = token_len(n + spaces);
            if rest > 0 {
                return Some(Skip {
                    keep: n + spaces,
                    secret: rest,
                });
            }
        }
    }
    for name in [
        "api_key",
        "api-key",
        "apikey",
        "x-api-key",
        "key",
        "token",
        "access_token",
        "password",
    ] {
        let n = name.len();
        if !starts_with_ignore_case(s, name) {
            continue;
        }
        // `name=value`, `name: value`, `"name": "value"`.
        let mut j = n;
        if s.get(j) == Some(&'"') {
            j += 1;
        }
        if !matches!(s.get(j), Some('=' | ':')) {
            continue;
        }
        j += 1;
        while matches!(s.get(j), Some(' ' | '"')) {
            j += 1;
        }
        let rest = token_len(j);
        if rest > 0 {
            return Some(Skip {
                keep: j,
                secret: rest,
            });
        }
    }
    None
}

fn starts_with_ignore_case(s: &[char], prefix: &str) -> bool {
    let mut it = s.iter();
    prefix
        .chars()
        .all(|p| it.next().is_some_and(|c| c.eq_ignore_ascii_case(&p)))
}

/// A URL fit for a message: no user:password, no query or fragment (either may hold a key),
/// and key-like tokens in the path removed. Works on strings that do not parse, too.
pub fn url(raw: &str) -> String {
    let raw = raw.trim();
    let shown = match url::Url::parse(raw) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some(REDACTED));
            }
            u.set_fragment(None);
            u.to_string()
        }
        _ => rough_url(raw),
    };
    let shown = tokens(&shown);
    // A config value can be anything: keep messages on one line and short.
    let one_line: String = shown
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line
}

/// Best effort for a string that is not a URL with a host: drop everything up to an `@` of a
/// userinfo and everything after `?` or `#`.
fn rough_url(raw: &str) -> String {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let (main, cut) = (&raw[..end], end < raw.len());
    let scheme_end = main.find("://").map(|i| i + 3).unwrap_or(0);
    let authority_end = main[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(main.len());
    let mut out = match main[..authority_end].rfind('@') {
        Some(at) if at >= scheme_end => {
            format!("{}{REDACTED}@{}", &main[..scheme_end], &main[at + 1..])
        }
        _ => match main.rfind('@') {
            // No authority ("htp:/user:pw@host"): everything before the `@` may be secret.
            Some(at) => format!("{REDACTED}@{}", &main[at + 1..]),
            None => main.to_string(),
        },
    };
    if cut {
        out.push('?');
        out.push_str(REDACTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "gsk_barcQ2w9ZxLmTn5R8vKp7731";

    #[test]
    fn masked_and_partial_forms_of_the_key_are_removed() {
        let r = Redactor::new(KEY);
        for body in [
            "Incorrect API key provided: gsk_barc***7731. You can find your key at …",
            "Invalid API Key gsk_barcQ2w9ZxLmTn5R8vKp7731",
            "key ending in 7731 was revoked",
            "key gsk_barcQ2w… is invalid",
            "authorization: Bearer gsk_barcQ2w9ZxLmTn5R8vKp7731",
        ] {
            let out = r.redact(body);
            for fragment in ["barc", "7731", "gsk_", "Q2w9"] {
                assert!(!out.contains(fragment), "{fragment} in {out:?}");
            }
            assert!(out.contains(REDACTED), "{out}");
        }
        assert_eq!(
            r.redact("Incorrect API key provided: gsk_barc***7731."),
            "Incorrect API key provided: [redacted]."
        );
        assert_eq!(
            r.redact("model `openai/gpt-oss-20b` has been decommissioned"),
            "model `openai/gpt-oss-20b` has been decommissioned",
            "ordinary text is untouched"
        );
    }

    #[test]
    fn a_masked_key_without_a_known_prefix_goes_whole() {
        let r = Redactor::new("abcd1234efgh5678");
        assert_eq!(
            r.redact("key abcd***5678 rejected"),
            "key [redacted] rejected"
        );
        assert_eq!(r.redact("ends in …5678."), "ends in …[redacted].");
    }

    #[test]
    fn key_like_tokens_are_removed_whatever_the_key() {
        let r = Redactor::new("some-other-key-entirely");
        let out = r.redact(
            "tried sk-proj-AbC123***xyz and Bearer eyJhbGciOi.J9 with ?api_key=s3cr3t&x=1, \
             {\"token\": \"t0k3n\"} and xai-ABCDEF",
        );
        for secret in ["AbC123", "xyz", "eyJhbGciOi", "s3cr3t", "t0k3n", "ABCDEF"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("Bearer [redacted]"), "{out}");
        assert!(out.contains("api_key=[redacted]&x=1"), "{out}");
        // Words that merely contain the letters are not tokens.
        assert_eq!(
            tokens("a risk-averse task-force"),
            "a risk-averse task-force"
        );
        assert_eq!(tokens("key: rotate it"), "key: [redacted] it");
    }

    #[test]
    fn urls_lose_credentials_query_and_fragment() {
        assert_eq!(
            url("https://user:gsk_abcdef@api.example.com/openai/v1?api_key=gsk_abcdef#x"),
            "https://api.example.com/openai/v1?[redacted]"
        );
        assert_eq!(
            url("ftp://me:sk-secret@host/v1"),
            "ftp://host/v1",
            "any scheme with a host"
        );
        for raw in [
            "htp:/me:sk-secret@host/v1",
            "api.groq.com/v1?key=gsk_abc",
            "me:hunter2@host:notaport/v1",
        ] {
            let out = url(raw);
            for secret in ["sk-secret", "gsk_abc", "hunter2", "me:"] {
                assert!(!out.contains(secret), "{secret} in {out} (from {raw})");
            }
        }
        assert_eq!(
            url("https://api.groq.com/openai/v1"),
            "https://api.groq.com/openai/v1"
        );
        assert!(!url("https://x/\n\u{1b}[31m").contains('\n'));
    }
}
