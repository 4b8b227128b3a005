//! The API key, from (first match wins) the environment variable named by `api_key_env`, the
//! `api_key_file` (which must not be readable by group or others) or the standard output of
//! `api_key_command`. It is held in a [`SecretString`] (whose `Debug` prints a redaction),
//! never passed on a command line, never logged, written to the state file or put in an error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::error::LlmSetupError;
use crate::config::LlmConfig;

/// How long `api_key_command` may take (a password manager waiting for a PIN must not hang
/// the start-up forever).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// The key, or None when no source is configured or set.
pub fn load(
    llm: &LlmConfig,
    config_dir: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SecretString>, LlmSetupError> {
    if !llm.api_key_env.is_empty()
        && let Some(v) = env(&llm.api_key_env)
        && !v.trim().is_empty()
    {
        return Ok(Some(SecretString::from(v.trim().to_string())));
    }
    if let Some(path) = &llm.api_key_file {
        return from_file(&resolve(path, config_dir)).map(Some);
    }
    if let Some(cmd) = &llm.api_key_command {
        return from_command(cmd).map(Some);
    }
    Ok(None)
}

/// Why there is no key, for the status bar ("no key ($GROQ_API_KEY unset)").
pub fn missing_reason(llm: &LlmConfig) -> String {
    if llm.api_key_env.is_empty() {
        "no key".into()
    } else {
        format!("no key (${} unset)", llm.api_key_env)
    }
}

/// `~/x` from the home dir, relative paths from the config dir.
fn resolve(path: &Path, config_dir: Option<&Path>) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
    {
        return home.join(rest);
    }
    match config_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

fn from_file(path: &Path) -> Result<SecretString, LlmSetupError> {
    let err = |reason: String| LlmSetupError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(LlmSetupError::KeyFileMode {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(err("is empty".into()));
    }
    Ok(SecretString::from(key.to_string()))
}

/// Runs `sh -c command` with no stdin; its stdout (trimmed) is the key. Its output is never
/// shown, even on failure, since it may be the key.
fn from_command(command: &str) -> Result<SecretString, LlmSetupError> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| LlmSetupError::KeyCommand(format!("cannot run sh: {e}")))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| LlmSetupError::KeyCommand("no stdout".into()))?;
    // Read on a thread so a command that never exits can be killed after the timeout.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).map(|_| out)
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LlmSetupError::KeyCommand(format!(
                    "did not finish within {} s",
                    COMMAND_TIMEOUT.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(LlmSetupError::KeyCommand(e.to_string())),
        }
    };
    let out = reader
        .join()
        .map_err(|_| LlmSetupError::KeyCommand("reading its output failed".into()))?
        .map_err(|e| LlmSetupError::KeyCommand(format!("output unreadable: {e}")))?;
    if !status.success() {
        return Err(LlmSetupError::KeyCommand(format!(
            "exited with {status} (its output is not shown: it may hold the key)"
        )));
    }
    let key = out.trim();
    if key.is_empty() {
        return Err(LlmSetupError::KeyCommand("printed nothing".into()));
    }
    Ok(SecretString::from(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn cfg() -> LlmConfig {
        LlmConfig {
            api_key_env: "TEST_KEY_VAR".into(),
            ..LlmConfig::default()
        }
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn env_first_then_nothing() {
        let env = |k: &str| (k == "TEST_KEY_VAR").then(|| " gsk_env \n".to_string());
        let key = load(&cfg(), None, &env).expect("ok").expect("some");
        assert_eq!(key.expose_secret(), "gsk_env");
        assert!(format!("{key:?}").find("gsk_env").is_none());
        assert!(load(&cfg(), None, &none).expect("ok").is_none());
        assert_eq!(missing_reason(&cfg()), "no key ($TEST_KEY_VAR unset)");
    }

    #[cfg(unix)]
    #[test]
    fn key_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("groq.key");
        std::fs::write(&path, "gsk_file\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut c = cfg();
        c.api_key_file = Some("groq.key".into()); // relative to the config dir
        let e = load(&c, Some(dir.path()), &none).expect_err("0644 refused");
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert!(e.to_string().contains("644"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let key = load(&c, Some(dir.path()), &none)
            .expect("ok")
            .expect("some");
        assert_eq!(key.expose_secret(), "gsk_file");
    }

    #[test]
    fn key_command_stdout_and_failures_never_echo_output() {
        let mut c = cfg();
        c.api_key_command = Some("printf '  gsk_cmd\\n'".into());
        let key = load(&c, None, &none).expect("ok").expect("some");
        assert_eq!(key.expose_secret(), "gsk_cmd");
        c.api_key_command = Some("echo gsk_leak; exit 3".into());
        let e = load(&c, None, &none).expect_err("fails").to_string();
        assert!(
            e.contains("exit status: 3") && !e.contains("gsk_leak"),
            "{e}"
        );
    }
}
