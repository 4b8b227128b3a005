//! Mutations of real inputs for the parsers' property tests: a seed (a trace, the example
//! config, a recorded LLM reply, a Prometheus answer, a kubeconfig) edited a few times, so the
//! cases reach deep into the parser instead of failing on the first byte. Shared by the unit
//! tests and `tests/parsers_never_panic.rs` (which includes this file by path).

use proptest::prelude::*;

/// Strings that parsers treat specially: numbers at and beyond the edges, separators,
/// brackets, quotes, non-ASCII and control characters.
const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "0.000000000000000000001",
    "",
    ",",
    ",,",
    "\n",
    "\r\n",
    "\t",
    " ",
    "=",
    ":",
    "\"",
    "'",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "[[",
    "```",
    "```json\n",
    "null",
    "true",
    "ä",
    "💥",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "T",
    "Z",
    "+99:99",
    "9999-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
];

#[derive(Clone, Debug)]
pub enum Edit {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Token {
        at: usize,
        token: usize,
    },
    /// Replace a run of bytes with a token (a number by another, say).
    Replace {
        at: usize,
        len: usize,
        token: usize,
    },
    Flip {
        at: usize,
        bit: u8,
    },
    Duplicate {
        at: usize,
        len: usize,
    },
    Truncate {
        at: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        (at, 1usize..16).prop_map(|(at, len)| Edit::Delete { at, len }),
        (at, proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (at, 0..TOKENS.len()).prop_map(|(at, token)| Edit::Token { at, token }),
        (at, 1usize..12, 0..TOKENS.len()).prop_map(|(at, len, token)| Edit::Replace {
            at,
            len,
            token
        }),
        (at, 0u8..8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        (at, 1usize..64).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        at.prop_map(|at| Edit::Truncate { at }),
    ]
}

/// Up to `max` edits.
pub fn edits(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(edit(), 0..=max)
}

/// `seed` with the edits applied (positions taken modulo the current length).
pub fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let n = b.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match e {
            Edit::Delete { at, len } => {
                let p = pos(*at);
                b.drain(p..(p + len).min(n));
            }
            Edit::Insert { at, bytes } => {
                let p = pos(*at);
                b.splice(p..p, bytes.iter().copied());
            }
            Edit::Token { at, token } => {
                let p = pos(*at);
                b.splice(p..p, TOKENS[*token].bytes());
            }
            Edit::Replace { at, len, token } => {
                let p = pos(*at);
                b.splice(p..(p + len).min(n), TOKENS[*token].bytes());
            }
            Edit::Flip { at, bit } => {
                if n > 0 {
                    b[at % n] ^= 1 << bit;
                }
            }
            Edit::Duplicate { at, len } => {
                let p = pos(*at);
                let piece: Vec<u8> = b[p..(p + len).min(n)].to_vec();
                b.splice(p..p, piece);
            }
            Edit::Truncate { at } => b.truncate(pos(*at)),
        }
    }
    b
}

/// The mutated seed as text (invalid UTF-8 replaced, as a lossy reader would).
pub fn apply_text(seed: &str, edits: &[Edit]) -> String {
    String::from_utf8_lossy(&apply(seed.as_bytes(), edits)).into_owned()
}
