//! Why the LLM advisor cannot be set up. Each message is one line for the status bar and the
//! log; none ever holds the API key (key material is never formatted into an error).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LlmSetupError {
    #[error("llm.base_url {url} is not a usable URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "llm.base_url {url} uses plain http:// to a non-loopback host; the API key would travel \
         unencrypted: use https:// (http:// is allowed only to 127.0.0.1, ::1 or localhost)"
    )]
    InsecureUrl { url: String },
    #[error("api key file {}: {reason}", path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error(
        "api key file {} is readable by group or others (mode {mode:03o}): run chmod 600 on it",
        path.display()
    )]
    KeyFileMode { path: PathBuf, mode: u32 },
    #[error("api_key_command: {0}")]
    KeyCommand(String),
    #[error("prompt template {}: {reason}", path.display())]
    Prompt { path: PathBuf, reason: String },
    #[error("LLM state {0}; no LLM requests, since the daily budget cannot be checked")]
    State(String),
    #[error("HTTP client: {0}")]
    Client(String),
}
