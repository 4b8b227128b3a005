//! Configuration: one TOML file (`--config`, `AI4K8S_CONFIG`, or the XDG config dir), one struct
//! per section, environment overrides on top. Unknown keys and bad values are one-line errors
//! naming the file and line; an absent default file means defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_GROQ_BASE_URL: &str = "https://api.groq.com/openai/v1";
/// Groq's named successors of the seed's retired llama-3.1 models.
pub const DEFAULT_MODEL: &str = "openai/gpt-oss-20b";
pub const DEFAULT_FALLBACK_MODEL: &str = "openai/gpt-oss-120b";

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub llm: LlmConfig,
    pub advisor: AdvisorConfig,
    pub prometheus: PrometheusConfig,
    pub actions: ActionsConfig,
    pub ui: UiConfig,
    pub demo: DemoConfig,
    #[serde(rename = "schedule")]
    pub schedules: Vec<ScheduleRule>,
    pub contexts: BTreeMap<String, ContextConfig>,
    /// `[keys.CONTEXT]`: `action = "key"` or a list of keys. Kept as written: the TUI checks
    /// and applies it at start (src/tui/keys_config.rs).
    pub keys: BTreeMap<String, BTreeMap<String, KeyNames>>,
}

/// `[llm]`: the OpenAI-compatible endpoint the advisor talks to.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    pub base_url: String,
    pub model: String,
    /// Tried in order when the model is retired or unknown to the server.
    pub fallback_models: Vec<String>,
    /// Environment variable holding the key.
    pub api_key_env: String,
    /// File holding the key (must not be readable by group or others).
    pub api_key_file: Option<PathBuf>,
    /// Command whose standard output is the key (e.g. `pass show groq`).
    pub api_key_command: Option<String>,
    /// Most LLM calls per day, all deployments together.
    pub daily_budget: u32,
    /// Replace namespaces and names with placeholders in outgoing prompts. Unset: on for every
    /// endpoint that is not on loopback.
    pub anonymize: Option<bool>,
    pub timeout_seconds: u64,
    pub temperature: f64,
    pub max_tokens: u32,
    /// `response_format` sent: "auto" (strict json_schema for models known to support it, else
    /// json_object), "json_schema", "json_object" or "none".
    pub structured_output: String,
    /// `reasoning_effort` sent: "auto" ("low" for gpt-oss models, whose reasoning tokens count
    /// against max_tokens; nothing for others), "low", "medium", "high" or "off".
    pub reasoning_effort: String,
    /// Longest `retry-after` honoured on a 429 before the one retry; longer waits fall back.
    pub max_retry_wait_seconds: u64,
    /// Past decisions for the deployment (and what followed them) shown in the prompt.
    pub history_in_prompt: usize,
    /// Most requests in flight to the endpoint at once; unset: 1 on loopback (a local server
    /// often has one slot), 4 otherwise.
    pub max_in_flight: Option<usize>,
    /// The LLM reviews the policy's proposal when it is a change, when its confidence is below
    /// this, or when the inputs left the buckets of the deployment's last review; otherwise
    /// that review stands (no request).
    pub consult_below_confidence: f64,
    /// The model's context window in tokens (prompt and reply): bounds how many deployments
    /// one request carries.
    pub context_tokens: u64,
    /// Most deployments in one request (1: one request per deployment, the seed's form).
    pub max_batch: usize,
    /// Tokens per minute the provider allows; unset: learned from its
    /// `x-ratelimit-limit-tokens` header.
    pub tokens_per_minute: Option<u64>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_GROQ_BASE_URL.into(),
            model: DEFAULT_MODEL.into(),
            fallback_models: vec![DEFAULT_FALLBACK_MODEL.into()],
            api_key_env: "GROQ_API_KEY".into(),
            api_key_file: None,
            api_key_command: None,
            daily_budget: 1000,
            anonymize: None,
            timeout_seconds: 20,
            temperature: 0.3,
            max_tokens: 1000,
            structured_output: "auto".into(),
            reasoning_effort: "auto".into(),
            max_retry_wait_seconds: 30,
            history_in_prompt: 5,
            max_in_flight: None,
            consult_below_confidence: 0.6,
            context_tokens: 8192,
            max_batch: 16,
            tokens_per_minute: None,
        }
    }
}

/// `[advisor]`: the seed's cache and rate-limit rules and the rules advisor's knobs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdvisorConfig {
    pub cache_ttl_seconds: u64,
    pub cache_capacity: u64,
    /// At most one LLM call per deployment per this many seconds.
    pub min_call_interval_seconds: u64,
    /// Largest change of replicas one recommendation may propose.
    pub max_step: u32,
    /// Utilization the rules aim for when the deployment has no HPA CPU target.
    pub default_target_cpu_pct: u32,
    /// A recommendation whose inputs are older than this is refreshed before it is applied.
    pub stale_after_seconds: u64,
    /// How often (cluster seconds) recommendations are recomputed.
    pub refresh_seconds: u64,
    /// The range the policy may move an HPA's CPU target in (% of requests). Calibration
    /// picks the target within it; min = max = your HPA's target keeps it where it is.
    pub min_hpa_target_pct: u32,
    pub max_hpa_target_pct: u32,
}

impl Default for AdvisorConfig {
    fn default() -> Self {
        Self {
            cache_ttl_seconds: 300,
            cache_capacity: 100,
            min_call_interval_seconds: 300,
            max_step: 10,
            default_target_cpu_pct: 70,
            stale_after_seconds: 600,
            refresh_seconds: 60,
            min_hpa_target_pct: 50,
            max_hpa_target_pct: 85,
        }
    }
}

/// `[actions]`: what writes may do, and the autopilot's manners.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Highest max replicas the editor accepts.
    pub replicas_cap: u32,
    /// After a change, the autopilot waits this long (cluster seconds) before it takes
    /// capacity away from the same deployment; adding capacity never waits.
    pub autopilot_cooldown_seconds: u64,
    /// The autopilot applies only recommendations at least this confident.
    pub autopilot_min_confidence: f64,
    /// The autopilot acts on deployments Argo CD or Flux tracks (false: it leaves them alone,
    /// since their next sync puts the change back; true where their sync ignores the fields).
    pub autopilot_apply_gitops: bool,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        Self {
            replicas_cap: 500,
            autopilot_cooldown_seconds: 300,
            autopilot_min_confidence: 0.7,
            autopilot_apply_gitops: false,
        }
    }
}

/// `[prometheus]`: optional history source, queried once at start.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// Off: no history from Prometheus at all (neither `url` nor discovery).
    pub enabled: bool,
    /// Prometheus' URL; unset on a kube context, it is found through the API server's proxy.
    pub url: Option<String>,
    /// Hours of history asked for.
    pub lookback_hours: u32,
    /// Per query.
    pub query_timeout_seconds: u64,
    /// Queries in flight at once.
    pub max_concurrent_queries: usize,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            url: None,
            lookback_hours: 14 * 24,
            query_timeout_seconds: 30,
            max_concurrent_queries: 4,
        }
    }
}

/// Minutes of history the TUI keeps per deployment (charts show at most this).
pub const UI_HISTORY_MINUTES: usize = 36 * 60;

/// `[ui]`
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// Redraw interval when nothing else happens, milliseconds.
    pub tick_ms: u64,
    /// Hours of history drawn in the forecast chart.
    pub chart_history_hours: u32,
    /// On a cluster with Prometheus, how long the table's first frame may wait for the
    /// selected deployment's backfilled forecast, milliseconds (0: draw at once).
    pub first_view_wait_ms: u64,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            tick_ms: 250,
            chart_history_hours: 12,
            first_view_wait_ms: 3000,
        }
    }
}

/// `[demo]`: the embedded simulated cluster.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Cluster seconds per real second.
    pub speed: f64,
    pub seed: u64,
    /// History simulated before the app opens, hours.
    pub history_hours: u32,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            speed: 20.0,
            seed: 42,
            history_hours: 72,
        }
    }
}

/// `[[schedule]]`: the seed's Scheduled Autoscaler.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRule {
    /// `namespace/name`
    pub deployment: String,
    /// Cron expression (5 fields) for the window's start.
    pub cron: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    pub duration_minutes: u32,
    pub min_replicas: u32,
}

impl ScheduleRule {
    /// The rule's deployment, cron expression and time zone, parsed; the error names the rule
    /// (`n`, 1-based) and what is wrong. Config validation and the schedule share it.
    pub fn parse(
        &self,
        n: usize,
    ) -> Result<(crate::model::DeploymentKey, croner::Cron, chrono_tz::Tz), String> {
        let key = self
            .deployment
            .parse()
            .map_err(|e| format!("schedule {n}: deployment: {e}"))?;
        let cron = self
            .cron
            .parse()
            .map_err(|e| format!("schedule {n}: cron {:?}: {e}", self.cron))?;
        let tz = self
            .timezone
            .parse()
            .map_err(|_| format!("schedule {n}: unknown time zone {:?}", self.timezone))?;
        Ok((key, cron, tz))
    }
}

fn default_timezone() -> String {
    "UTC".into()
}

/// `[contexts.NAME]`
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    pub read_only: bool,
}

/// The key or keys of one action in `[keys.CONTEXT]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum KeyNames {
    One(String),
    Many(Vec<String>),
}

/// Longest request timeout or wait accepted, seconds.
const MAX_SECONDS: u64 = 86_400;
/// Longest cluster-time duration accepted (cache, refresh, cooldown), seconds.
const MAX_CLUSTER_SECONDS: u64 = 365 * 86_400;

/// A configuration that cannot be used, with where it went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 when not tied to a line.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parse TOML text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                // Counted in bytes: a span is never cut inside a character this way.
                .map(|s| {
                    let start = s.start.min(text.len());
                    text.as_bytes()[..start]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1
                })
                .unwrap_or(0);
            ConfigError {
                file: file.to_string(),
                line,
                message: e.message().trim().replace('\n', " "),
            }
        })?;
        cfg.validate().map_err(|(key, message)| ConfigError {
            file: file.to_string(),
            line: line_of_key(text, &key),
            message,
        })?;
        Ok(cfg)
    }

    /// Load from an explicit file (must exist) or the default location (may be absent).
    pub fn load(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let from_env = std::env::var_os("AI4K8S_CONFIG").map(PathBuf::from);
        let (path, required) = match explicit.map(Path::to_path_buf).or(from_env) {
            Some(p) => (Some(p), true),
            None => (default_config_path(), false),
        };
        let mut cfg = match &path {
            Some(p) if p.exists() || required => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    file: p.display().to_string(),
                    line: 0,
                    message: format!("cannot read: {e}"),
                })?;
                Config::parse(&p.display().to_string(), &text)?
            }
            _ => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok());
        let loaded = path.filter(|p| p.exists());
        Ok((cfg, loaded))
    }

    /// Environment overrides (DESIGN.md "Config contract").
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("AI4K8S_LLM_BASE_URL").filter(|v| !v.is_empty()) {
            self.llm.base_url = v;
        }
        if let Some(v) = get("AI4K8S_LLM_MODEL").filter(|v| !v.is_empty()) {
            self.llm.model = v;
        }
    }

    /// Whether writes are disabled for this kube context by the config.
    pub fn context_read_only(&self, context: &str) -> bool {
        self.contexts.get(context).is_some_and(|c| c.read_only)
    }

    /// Checks serde cannot express; the error names the offending key.
    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, msg: String| Err((key.to_string(), msg));
        if self.llm.timeout_seconds == 0 {
            return bad(
                "timeout_seconds",
                "llm.timeout_seconds must be at least 1".into(),
            );
        }
        if !(0.0..=2.0).contains(&self.llm.temperature) {
            return bad("temperature", "llm.temperature must be within 0..=2".into());
        }
        if self.llm.timeout_seconds > MAX_SECONDS {
            return bad(
                "timeout_seconds",
                format!("llm.timeout_seconds must be at most {MAX_SECONDS} (a day)"),
            );
        }
        if !(0.0..=1.0).contains(&self.llm.consult_below_confidence) {
            return bad(
                "consult_below_confidence",
                "llm.consult_below_confidence must be within 0..=1".into(),
            );
        }
        if self.llm.max_tokens == 0 {
            return bad("max_tokens", "llm.max_tokens must be at least 1".into());
        }
        if self.llm.max_batch == 0 {
            return bad("max_batch", "llm.max_batch must be at least 1".into());
        }
        if self.llm.context_tokens < 256 {
            return bad(
                "context_tokens",
                "llm.context_tokens must be at least 256".into(),
            );
        }
        if self.llm.max_retry_wait_seconds > MAX_SECONDS {
            return bad(
                "max_retry_wait_seconds",
                format!("llm.max_retry_wait_seconds must be at most {MAX_SECONDS} (a day)"),
            );
        }
        if self.llm.model.trim().is_empty() {
            return bad("model", "llm.model must not be empty".into());
        }
        if !(self.llm.base_url.starts_with("http://") || self.llm.base_url.starts_with("https://"))
        {
            return bad(
                "base_url",
                // The value may carry user:password or a key in its query: never echo it.
                format!(
                    "llm.base_url {:?} must start with http:// or https://",
                    crate::redact::url(&self.llm.base_url)
                ),
            );
        }
        if !["auto", "json_schema", "json_object", "none"]
            .contains(&self.llm.structured_output.as_str())
        {
            return bad(
                "structured_output",
                "llm.structured_output must be auto, json_schema, json_object or none".into(),
            );
        }
        if !["auto", "low", "medium", "high", "off"].contains(&self.llm.reasoning_effort.as_str()) {
            return bad(
                "reasoning_effort",
                "llm.reasoning_effort must be auto, low, medium, high or off".into(),
            );
        }
        let (lo, hi) = (
            self.advisor.min_hpa_target_pct,
            self.advisor.max_hpa_target_pct,
        );
        if !(1..=100).contains(&lo) || !(1..=100).contains(&hi) || lo > hi {
            return bad(
                "max_hpa_target_pct",
                format!(
                    "advisor.min_hpa_target_pct {lo} and max_hpa_target_pct {hi} must be within \
                     1..=100 with min <= max"
                ),
            );
        }
        if self.advisor.max_step == 0 {
            return bad("max_step", "advisor.max_step must be at least 1".into());
        }
        if !(1..=100).contains(&self.advisor.default_target_cpu_pct) {
            return bad(
                "default_target_cpu_pct",
                "advisor.default_target_cpu_pct must be within 1..=100".into(),
            );
        }
        if self.actions.replicas_cap == 0 {
            return bad(
                "replicas_cap",
                "actions.replicas_cap must be at least 1".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.actions.autopilot_min_confidence) {
            return bad(
                "autopilot_min_confidence",
                "actions.autopilot_min_confidence must be within 0..=1".into(),
            );
        }
        if self.advisor.cache_capacity == 0 {
            return bad(
                "cache_capacity",
                "advisor.cache_capacity must be at least 1".into(),
            );
        }
        // Durations become `i64` cluster seconds and `Duration`s added to clocks: zero would
        // make an interval that panics or a cache that keeps nothing, and anything beyond a
        // year only risks overflow.
        for (key, section, value, min) in [
            (
                "cache_ttl_seconds",
                "advisor",
                self.advisor.cache_ttl_seconds,
                1,
            ),
            (
                "min_call_interval_seconds",
                "advisor",
                self.advisor.min_call_interval_seconds,
                0,
            ),
            (
                "stale_after_seconds",
                "advisor",
                self.advisor.stale_after_seconds,
                1,
            ),
            (
                "refresh_seconds",
                "advisor",
                self.advisor.refresh_seconds,
                1,
            ),
            (
                "autopilot_cooldown_seconds",
                "actions",
                self.actions.autopilot_cooldown_seconds,
                0,
            ),
        ] {
            if !(min..=MAX_CLUSTER_SECONDS).contains(&value) {
                return bad(
                    key,
                    format!(
                        "{section}.{key} must be within {min}..={MAX_CLUSTER_SECONDS} (a year)"
                    ),
                );
            }
        }
        // tokio's interval panics on a zero period; below 10 ms the TUI only burns CPU.
        if !(10..=10_000).contains(&self.ui.tick_ms) {
            return bad("tick_ms", "ui.tick_ms must be within 10..=10000".into());
        }
        if self.ui.first_view_wait_ms > 600_000 {
            return bad(
                "first_view_wait_ms",
                "ui.first_view_wait_ms must be within 0..=600000".into(),
            );
        }
        let ui_hours = (UI_HISTORY_MINUTES / 60) as u32;
        if !(1..=ui_hours).contains(&self.ui.chart_history_hours) {
            return bad(
                "chart_history_hours",
                format!(
                    "ui.chart_history_hours must be within 1..={ui_hours} (the history the TUI keeps)"
                ),
            );
        }
        if let Some(url) = &self.prometheus.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad(
                "url",
                format!(
                    "prometheus.url {:?} must start with http:// or https://",
                    crate::redact::url(url)
                ),
            );
        }
        if self.prometheus.query_timeout_seconds == 0 {
            return bad(
                "query_timeout_seconds",
                "prometheus.query_timeout_seconds must be at least 1".into(),
            );
        }
        if self.prometheus.query_timeout_seconds > MAX_SECONDS {
            return bad(
                "query_timeout_seconds",
                format!("prometheus.query_timeout_seconds must be at most {MAX_SECONDS} (a day)"),
            );
        }
        // The store keeps 60 days; more would only be thousands of queries for nothing.
        if !(1..=60 * 24).contains(&self.prometheus.lookback_hours) {
            return bad(
                "lookback_hours",
                "prometheus.lookback_hours must be within 1..=1440 (60 days)".into(),
            );
        }
        if self.prometheus.max_concurrent_queries == 0 {
            return bad(
                "max_concurrent_queries",
                "prometheus.max_concurrent_queries must be at least 1".into(),
            );
        }
        if !(self.demo.speed > 0.0 && self.demo.speed <= 10_000.0) {
            return bad("speed", "demo.speed must be within (0, 10000]".into());
        }
        // The engine keeps 14 days; a longer warm-up is minutes of start-up for nothing.
        if !(24..=14 * 24).contains(&self.demo.history_hours) {
            return bad(
                "history_hours",
                "demo.history_hours must be within 24..=336 (14 days)".into(),
            );
        }
        for (i, rule) in self.schedules.iter().enumerate() {
            if let Err(e) = rule.parse(i + 1) {
                // Point at the rule's own table header.
                return Err((format!("[[schedule]]#{i}"), e));
            }
        }
        for s in &self.schedules {
            if s.deployment.parse::<crate::model::DeploymentKey>().is_err() {
                return bad(
                    "deployment",
                    format!(
                        "schedule deployment {:?} must be NAMESPACE/NAME",
                        s.deployment
                    ),
                );
            }
            if s.duration_minutes == 0 {
                return bad(
                    "duration_minutes",
                    "schedule duration_minutes must be at least 1".into(),
                );
            }
        }
        Ok(())
    }
}

/// `$XDG_CONFIG_HOME/ai4k8s/config.toml` (or the platform's equivalent).
pub fn default_config_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().join("config.toml"))
}

/// State, journal, logs and caches: `--data-dir`, else `AI4K8S_DATA_DIR`, else the XDG data dir.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("AI4K8S_DATA_DIR").map(PathBuf::from))
        .or_else(|| project_dirs().map(|d| d.data_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from(".ai4k8s"))
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "ai4k8s")
}

/// The first line that sets `key`, for errors found after parsing.
fn line_of_key(text: &str, key: &str) -> usize {
    // "[[table]]#N": the N-th (0-based) header of an array of tables.
    if let Some((header, n)) = key.split_once('#')
        && let Ok(n) = n.parse::<usize>()
    {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.trim() == header)
            .nth(n)
            .map(|(i, _)| i + 1)
            .unwrap_or(0);
    }
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(key) && l[key.len()..].trim_start().starts_with('=')
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let text = include_str!("../config.example.toml");
        let cfg = Config::parse("config.example.toml", text).expect("example parses");
        // The example shows one schedule and one context; everything else is the default.
        let expected = Config {
            schedules: cfg.schedules.clone(),
            contexts: cfg.contexts.clone(),
            ..Config::default()
        };
        assert_eq!(cfg, expected);
        assert_eq!(cfg.schedules.len(), 1);
        assert!(cfg.context_read_only("production"));
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let e = Config::parse("c.toml", "[llm]\nmodel = \"m\"\nmodle = \"x\"\n").expect_err("bad");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.to_string().starts_with("c.toml:3: "), "{e}");
        assert!(e.message.contains("modle"), "{e}");
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn wrong_type_and_bad_values_are_errors_with_lines() {
        let e = Config::parse("c.toml", "[advisor]\n\nmax_step = \"ten\"\n").expect_err("type");
        assert_eq!(e.line, 3, "{e}");
        let e = Config::parse("c.toml", "[advisor]\nmax_step = 0\n").expect_err("zero");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("max_step"));
        let e = Config::parse("c.toml", "[llm]\nbase_url = \"ftp://x\"\n").expect_err("url");
        assert!(e.message.contains("http"), "{e}");
    }

    #[test]
    fn values_that_would_panic_or_overflow_later_are_errors_naming_the_key() {
        // Each would reach an interval, a clock addition or a cache that cannot hold it.
        for (text, key, line) in [
            ("[ui]\ntick_ms = 0\n", "ui.tick_ms", 2),
            (
                "[ui]\n\nchart_history_hours = 0\n",
                "ui.chart_history_hours",
                3,
            ),
            (
                "[ui]\nchart_history_hours = 4000000000\n",
                "ui.chart_history_hours",
                2,
            ),
            (
                "[advisor]\nrefresh_seconds = 0\n",
                "advisor.refresh_seconds",
                2,
            ),
            (
                "[advisor]\nrefresh_seconds = 18446744073709551615\n",
                "advisor.refresh_seconds",
                2,
            ),
            (
                "[advisor]\ncache_ttl_seconds = 0\n",
                "advisor.cache_ttl_seconds",
                2,
            ),
            (
                "[advisor]\nstale_after_seconds = 0\n",
                "advisor.stale_after_seconds",
                2,
            ),
            (
                "[actions]\nautopilot_cooldown_seconds = 9223372036854775808\n",
                "actions.autopilot_cooldown_seconds",
                2,
            ),
            ("[llm]\nmax_tokens = 0\n", "llm.max_tokens", 2),
            (
                "[llm]\ntimeout_seconds = 99999999999\n",
                "llm.timeout_seconds",
                2,
            ),
            (
                "[prometheus]\nlookback_hours = 0\n",
                "prometheus.lookback_hours",
                2,
            ),
            (
                "[prometheus]\nlookback_hours = 4294967295\n",
                "prometheus.lookback_hours",
                2,
            ),
            ("[demo]\nhistory_hours = 100000\n", "demo.history_hours", 2),
        ] {
            let e = Config::parse("c.toml", text).expect_err(text);
            assert!(e.message.starts_with(key), "{text:?}: {e}");
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains("must be"), "{e}");
        }
        // The edges that stay allowed.
        let ok = "[ui]\ntick_ms = 10\nchart_history_hours = 36\n[advisor]\n\
                  min_call_interval_seconds = 0\n[actions]\nautopilot_cooldown_seconds = 0\n";
        Config::parse("c.toml", ok).expect("edges are valid");
    }

    #[test]
    fn a_bad_prometheus_url_is_named_without_its_credentials() {
        for url in [
            "ftp://admin:hunter2@prom.internal:9090",
            "htps://admin:hunter2@prom.internal/prometheus",
        ] {
            let text = format!("[prometheus]\nurl = \"{url}\"\n");
            let e = Config::parse("c.toml", &text).expect_err("not http(s)");
            let shown = e.to_string();
            assert!(shown.contains("must start with http"), "{shown}");
            assert!(
                shown.contains("prom.internal"),
                "the host is still named: {shown}"
            );
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn a_bad_base_url_is_named_without_its_credentials() {
        for url in [
            "ftp://admin:hunter2@llm.internal/v1?api_key=gsk_Q2w9ZxLm",
            "htps://admin:hunter2@llm.internal/v1",
            "llm.internal/v1?key=sk-Q2w9ZxLm",
        ] {
            let text = format!("[llm]\nbase_url = \"{url}\"\n");
            let e = Config::parse("c.toml", &text).expect_err("not http(s)");
            let shown = e.to_string();
            assert!(shown.contains("must start with http"), "{shown}");
            assert!(
                shown.contains("llm.internal"),
                "the host is still named: {shown}"
            );
            for secret in ["hunter2", "admin", "gsk_", "sk-", "Q2w9ZxLm"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }

    #[test]
    fn a_bad_schedule_points_at_its_own_table() {
        let text = "[[schedule]]\ndeployment = \"a/b\"\ncron = \"0 8 * * *\"\nduration_minutes = 5\nmin_replicas = 2\n\n[[schedule]]\ndeployment = \"a/b\"\ncron = \"0 8 * * *\"\ntimezone = \"Nowhere/City\"\nduration_minutes = 5\nmin_replicas = 2\n";
        let e = Config::parse("c.toml", text).expect_err("bad tz");
        assert_eq!(e.line, 7, "{e}");
        assert!(e.message.starts_with("schedule 2:"), "{e}");
    }

    #[test]
    fn env_overrides_base_url_and_model() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| match k {
            "AI4K8S_LLM_BASE_URL" => Some("http://127.0.0.1:9/v1".into()),
            "AI4K8S_LLM_MODEL" => Some("local".into()),
            _ => None,
        });
        assert_eq!(cfg.llm.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(cfg.llm.model, "local");
    }
}
