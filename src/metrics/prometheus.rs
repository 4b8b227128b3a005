//! Optional Prometheus history source (`[prometheus] url`): at start, per deployment, range
//! queries of container CPU and memory by pod (cAdvisor) and of pod requests (kube-state-metrics),
//! turned into % of requests the way the HPA computes utilization: the sum of the pods' usage
//! over the sum of the same pods' requests.
//!
//! Pods belong to a deployment by name: a Deployment's pods are named
//! `NAME-<replicaset hash>-<pod hash>`, and neither hash contains a `-`, so `web` never takes
//! `web-admin`'s pods. Without kube-state-metrics, the deployment's per-pod requests from the
//! snapshot stand in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use super::prom_error::PromError;
use super::prom_fold::{Fold, PodPoints, Resource};
use super::prom_point::Point;
pub use super::prom_stream::{BackfillOrder, Item, Tally};
use super::prom_transport::{HttpTransport, PromTransport};
use crate::config::PrometheusConfig;
use crate::metrics::MINUTE;
use crate::model::{ClusterSnapshot, DeploymentKey, DeploymentState, Sample, UnixSeconds};

/// Prometheus refuses a range query whose (end - start) / step exceeds 11,000 (so at most
/// 11,001 points per series); chunks stay within 11,000 points.
pub const PROMETHEUS_MAX_POINTS: i64 = 11_000;

#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusOptions {
    /// Resolution asked for; the history's step.
    pub step_seconds: i64,
    /// How far back to backfill.
    pub lookback_seconds: i64,
    /// Points per series per query (at most `PROMETHEUS_MAX_POINTS`).
    pub max_points: i64,
    /// Per request, connect included.
    pub timeout: Duration,
    /// Queries in flight at once.
    pub concurrency: usize,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        Self {
            step_seconds: MINUTE,
            lookback_seconds: 14 * 24 * 3600,
            // Two queries of 10,080 minutes cover 14 days (10,000 took three).
            max_points: PROMETHEUS_MAX_POINTS,
            timeout: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

impl PrometheusOptions {
    pub fn from_config(cfg: &PrometheusConfig) -> Self {
        Self {
            lookback_seconds: i64::from(cfg.lookback_hours) * 3600,
            timeout: Duration::from_secs(cfg.query_timeout_seconds.max(1)),
            concurrency: cfg.max_concurrent_queries.max(1),
            ..Self::default()
        }
    }
}

/// The history Prometheus could give, and which deployments it could not, with why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Backfill {
    pub series: Vec<(DeploymentKey, Vec<Sample>)>,
    pub skipped: Vec<(DeploymentKey, String)>,
    /// Where it came from ("prometheus-k8s via API proxy", a URL).
    pub source: String,
    /// The span asked for, seconds.
    pub lookback_seconds: i64,
}

impl Backfill {
    /// What it brought, counted as the stream counts it.
    pub fn tally(&self) -> Tally {
        Tally {
            source: self.source.clone(),
            lookback_seconds: self.lookback_seconds,
            total: self.series.len() + self.skipped.len(),
            deployments: self.series.len(),
            minutes: self.series.iter().map(|(_, s)| s.len()).sum(),
            skipped: self.skipped.clone(),
        }
    }

    /// One line for the status bar and the log.
    pub fn summary(&self) -> String {
        self.tally().summary()
    }

    /// The status bar's words: "history: prometheus-k8s via API proxy, 14 d".
    pub fn headline(&self) -> String {
        self.tally().headline()
    }
}

pub struct PrometheusSource {
    transport: Arc<dyn PromTransport>,
    opts: PrometheusOptions,
}

impl std::fmt::Debug for PrometheusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusSource")
            .field("source", &self.transport.describe())
            .field("opts", &self.opts)
            .finish()
    }
}

/// One of the four series a deployment's history is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Usage(Resource),
    Requests(Resource),
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Matrix>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Matrix {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RangeSeries>,
}

/// One series of an answer; its points read straight into 16 bytes each (two weeks of minutes
/// are a million points a query).
#[derive(Debug, Deserialize)]
struct RangeSeries {
    metric: HashMap<String, String>,
    values: Vec<Point>,
}

impl PrometheusSource {
    /// The source for `[prometheus]`, or None when no url is configured.
    pub fn from_config(cfg: &PrometheusConfig) -> Result<Option<Self>, PromError> {
        match cfg.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Self::new(url, PrometheusOptions::from_config(cfg)).map(Some),
            None => Ok(None),
        }
    }

    pub fn new(url: &str, opts: PrometheusOptions) -> Result<Self, PromError> {
        let transport = HttpTransport::new(url, opts.timeout)?;
        Ok(Self::with_transport(Arc::new(transport), opts))
    }

    /// Prometheus behind any transport (the API server's service proxy, on the kube path).
    pub fn with_transport(transport: Arc<dyn PromTransport>, opts: PrometheusOptions) -> Self {
        Self {
            transport,
            opts: PrometheusOptions {
                max_points: opts.max_points.clamp(2, PROMETHEUS_MAX_POINTS),
                step_seconds: opts.step_seconds.max(1),
                concurrency: opts.concurrency.max(1),
                ..opts
            },
        }
    }

    /// Where answers come from.
    pub fn describe(&self) -> String {
        self.transport.describe()
    }

    pub fn options(&self) -> &PrometheusOptions {
        &self.opts
    }

    /// Backfill every deployment of the snapshot, up to the last minute closed before it.
    pub async fn backfill(&self, snapshot: &ClusterSnapshot) -> Result<Backfill, PromError> {
        let (start, end) = self.window(snapshot);
        let mut out = self
            .backfill_range(&snapshot.deployments, start, end)
            .await?;
        out.lookback_seconds = self.opts.lookback_seconds;
        Ok(out)
    }

    /// The span a backfill at `snapshot` asks for: `lookback_seconds` up to the last minute
    /// closed before it (the minute in progress is the engine's own).
    pub fn window(&self, snapshot: &ClusterSnapshot) -> (UnixSeconds, UnixSeconds) {
        let end = (snapshot.time - 1).div_euclid(MINUTE) * MINUTE;
        (end - self.opts.lookback_seconds, end)
    }

    /// One deployment's minutes over `chunks`, or why there are none.
    pub(super) async fn deployment(
        &self,
        d: &DeploymentState,
        chunks: &[(UnixSeconds, UnixSeconds)],
    ) -> Result<Result<Vec<Sample>, String>, PromError> {
        let (Some(&(start, _)), Some(&(_, end))) = (chunks.first(), chunks.last()) else {
            return Ok(Err("nothing to ask for".into()));
        };
        // Each answer folded as it lands; a resource's requests are held until its usage has.
        let mut fold = Fold::new(start, end, self.opts.step_seconds);
        for (resource, fallback) in [
            (Resource::Cpu, f64::from(d.cpu_request_millis) / 1000.0),
            (
                Resource::Memory,
                f64::from(d.mem_request_mib) * 1024.0 * 1024.0,
            ),
        ] {
            let query = promql(Kind::Requests(resource), &d.key);
            for &(from, to) in chunks {
                fold.requests(resource, self.query_range(&query, from, to).await?);
            }
            let query = promql(Kind::Usage(resource), &d.key);
            for &(from, to) in chunks {
                fold.usage(
                    resource,
                    self.query_range(&query, from, to).await?,
                    fallback,
                );
            }
            fold.drop_requests(resource);
        }
        let samples = fold.samples();
        if samples.is_empty() {
            return Ok(Err(if fold.saw_usage() {
                "no CPU or memory requests known".to_string()
            } else {
                format!(
                    "no container series for pods {}-*-* in {}",
                    d.key.name, d.key.namespace
                )
            }));
        }
        Ok(Ok(samples))
    }

    /// One range query; its result must be a matrix.
    async fn query_range(
        &self,
        query: &str,
        start: UnixSeconds,
        end: UnixSeconds,
    ) -> Result<Vec<PodPoints>, PromError> {
        let path = format!(
            "api/v1/query_range?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("query", query)
                .append_pair("start", &start.to_string())
                .append_pair("end", &end.to_string())
                .append_pair("step", &self.opts.step_seconds.to_string())
                .finish()
        );
        let resp = self.transport.get(&path).await?;
        let status = resp.status;
        // Megabytes of JSON: read on the blocking pool, not on a thread the TUI's tasks share.
        let read = tokio::task::spawn_blocking(move || {
            read_answer(status, &resp.body).map(|series| pod_points(series, start, end))
        })
        .await
        .map_err(|e| PromError::BadAnswer {
            url: self.transport.describe(),
            reason: format!("reading the answer failed: {e}"),
        })?;
        read.map_err(|e| match e {
            BadAnswer::Http(message) => PromError::Http {
                url: self.transport.describe(),
                status,
                message,
            },
            BadAnswer::Body(reason) => PromError::BadAnswer {
                url: self.transport.describe(),
                reason,
            },
        })
    }
}

/// Whether `transport` answers as Prometheus does: `up` as an instant query, a success.
pub async fn probe(transport: &dyn PromTransport) -> Result<(), PromError> {
    let resp = transport.get("api/v1/query?query=up").await?;
    let url = transport.describe();
    #[derive(Deserialize)]
    struct Instant {
        status: String,
        data: Option<InstantData>,
    }
    #[derive(Deserialize)]
    struct InstantData {
        #[serde(rename = "resultType")]
        result_type: String,
    }
    if !(200..300).contains(&resp.status) {
        #[derive(Deserialize)]
        struct KubeStatus {
            message: String,
        }
        // Prometheus' own error, the API server's Status (a proxy that found no endpoints),
        // or the start of whatever came back.
        let message = match serde_json::from_slice::<Answer>(&resp.body) {
            Ok(a) if a.error.is_some() => one_line(&format!(
                "{}: {}",
                a.error_type.unwrap_or_default(),
                a.error.unwrap_or_default()
            )),
            _ => match serde_json::from_slice::<KubeStatus>(&resp.body) {
                Ok(s) => one_line(&s.message),
                Err(_) => snippet(&resp.body),
            },
        };
        return Err(PromError::Http {
            url,
            status: resp.status,
            message,
        });
    }
    match serde_json::from_slice::<Instant>(&resp.body) {
        Ok(a)
            if a.status == "success"
                && a.data.as_ref().is_some_and(|d| d.result_type == "vector") =>
        {
            Ok(())
        }
        Ok(a) => Err(PromError::BadAnswer {
            url,
            reason: format!("status {:?}, not a vector of `up`", a.status),
        }),
        Err(e) => Err(PromError::BadAnswer {
            url,
            reason: format!("{e} in {:?}", snippet(&resp.body)),
        }),
    }
}

/// Why an answer is not a matrix: an HTTP error (with Prometheus' words), or a body that is not
/// what a range query returns.
#[derive(Debug)]
enum BadAnswer {
    Http(String),
    Body(String),
}

/// A range query's answer (HTTP status and body, as received) as its series.
fn read_answer(status: u16, body: &[u8]) -> Result<Vec<RangeSeries>, BadAnswer> {
    let answer = serde_json::from_slice::<Answer>(body);
    if !(200..300).contains(&status) {
        return Err(BadAnswer::Http(match answer {
            Ok(a) => one_line(&format!(
                "{}: {}",
                a.error_type.unwrap_or_default(),
                a.error.unwrap_or_default()
            )),
            Err(_) => snippet(body),
        }));
    }
    let bad = BadAnswer::Body;
    let answer = answer.map_err(|e| bad(format!("{e} in {:?}", snippet(body))))?;
    if answer.status != "success" {
        return Err(bad(one_line(&format!(
            "status {:?}: {}",
            answer.status,
            answer.error.unwrap_or_default()
        ))));
    }
    let data = answer.data.ok_or_else(|| bad("no data".into()))?;
    if data.result_type != "matrix" {
        return Err(bad(format!(
            "resultType {:?}, not matrix",
            data.result_type
        )));
    }
    Ok(data.result)
}

/// An answer's series as each pod's points. Series without a pod are skipped; points that are
/// not finite numbers, or lie outside the range asked for (a timestamp of 1e300 would saturate
/// to i64::MAX and overflow the history's arithmetic), are dropped.
fn pod_points(series: Vec<RangeSeries>, start: UnixSeconds, end: UnixSeconds) -> Vec<PodPoints> {
    series
        .into_iter()
        .filter_map(|mut s| {
            let pod = s.metric.remove("pod")?;
            let points = s
                .values
                .into_iter()
                // In place: the points' vector becomes the pod's (both 16 bytes a point).
                .filter_map(|Point(t, v)| {
                    (v.is_finite()
                        && t.is_finite()
                        && (start as f64..=end as f64).contains(&t.round()))
                    .then_some((t.round() as UnixSeconds, v))
                })
                .collect();
            Some((pod, points))
        })
        .collect()
}

/// [start, end] cut into pieces of at most `max_points` steps each.
pub(super) fn chunks(start: i64, end: i64, step: i64, max_points: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut from = start;
    while from <= end {
        let to = (from + (max_points - 1) * step).min(end);
        out.push((from, to));
        from = to + step;
    }
    out
}

/// The PromQL of one kind of series for one deployment's pods, summed per pod.
fn promql(kind: Kind, key: &DeploymentKey) -> String {
    let ns = promql_string(&key.namespace);
    let pods = promql_string(&format!("{}-[a-z0-9]+-[a-z0-9]+", regex_escape(&key.name)));
    let containers = r#"container!="",container!="POD""#;
    match kind {
        Kind::Usage(Resource::Cpu) => format!(
            "sum by (pod) (rate(container_cpu_usage_seconds_total{{namespace={ns},pod=~{pods},{containers}}}[5m]))"
        ),
        Kind::Usage(Resource::Memory) => format!(
            "sum by (pod) (container_memory_working_set_bytes{{namespace={ns},pod=~{pods},{containers}}})"
        ),
        Kind::Requests(Resource::Cpu) => format!(
            r#"sum by (pod) (kube_pod_container_resource_requests{{namespace={ns},pod=~{pods},resource="cpu"}})"#
        ),
        Kind::Requests(Resource::Memory) => format!(
            r#"sum by (pod) (kube_pod_container_resource_requests{{namespace={ns},pod=~{pods},resource="memory"}})"#
        ),
    }
}

/// A PromQL double-quoted string literal.
fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Escape RE2 metacharacters (names may contain `.`).
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `s` with every run of whitespace (newlines too) as one space: errors end up in the status bar.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn snippet(body: &[u8]) -> String {
    let text = one_line(&String::from_utf8_lossy(body));
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_point_limit_and_cover_the_range() {
        let c = chunks(0, 20_159 * 60, 60, 10_000);
        assert_eq!(
            c,
            [
                (0, 9_999 * 60),
                (10_000 * 60, 19_999 * 60),
                (20_000 * 60, 20_159 * 60)
            ]
        );
        for (a, b) in &c {
            assert!((b - a) / 60 < 10_000, "at most 10,000 points");
        }
        assert_eq!(chunks(60, 60, 60, 10), [(60, 60)]);
        assert!(chunks(120, 60, 60, 10).is_empty());
    }

    #[test]
    fn queries_escape_names_and_filter_pause_containers() {
        let q = promql(
            Kind::Usage(Resource::Cpu),
            &DeploymentKey::new("shop", "my.app"),
        );
        assert_eq!(
            q,
            r#"sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="shop",pod=~"my\\.app-[a-z0-9]+-[a-z0-9]+",container!="",container!="POD"}[5m]))"#
        );
        assert!(
            promql(
                Kind::Requests(Resource::Memory),
                &DeploymentKey::new("a", "b")
            )
            .contains(r#"resource="memory""#)
        );
        assert_eq!(promql_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    const ANSWER: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"namespace":"shop","pod":"web-7d4b9c8f6-abcde"},
         "values":[[1704067200,"0.12"],[1704067260,"0.125"],[1704067320,"0.13"],[1704067380,"NaN"]]},
        {"metric":{"namespace":"shop","pod":"web-7d4b9c8f6-fghij"},
         "values":[[1704067200,"0.2"],[1704067260.4,"0.21"],[1704067320,"+Inf"]]}]}}"#;
    const ERROR: &str = r#"{"status":"error","errorType":"bad_data","error":"1:12: parse error: unexpected \"}\""}"#;
    const START: UnixSeconds = 1_704_067_200;
    const END: UnixSeconds = 1_704_067_380;

    /// The backfill's arithmetic on one answer used for every kind, as `deployment` does.
    fn samples_from(body: &[u8], status: u16) -> Result<Vec<Sample>, BadAnswer> {
        let read = || read_answer(status, body).map(|s| pod_points(s, START, END));
        let mut fold = Fold::new(START, END, 60);
        fold.requests(Resource::Cpu, read()?);
        fold.usage(Resource::Cpu, read()?, 0.25);
        fold.usage(Resource::Memory, read()?, 0.0);
        Ok(fold.samples())
    }

    #[test]
    fn a_real_answer_reads_and_points_outside_the_range_are_dropped() {
        let s = samples_from(ANSWER.as_bytes(), 200).expect("reads");
        assert_eq!(
            s.iter().map(|s| s.timestamp).collect::<Vec<_>>(),
            [START, START + 60, START + 120]
        );
        // A timestamp that saturates to i64::MAX must not reach the history.
        let far = ANSWER.replace("1704067380", "1e300");
        let s = samples_from(far.as_bytes(), 200).expect("reads");
        assert!(
            s.iter().all(|s| (START..=END).contains(&s.timestamp)),
            "{s:?}"
        );
        match read_answer(400, ERROR.as_bytes()) {
            Err(BadAnswer::Http(m)) => assert!(m.starts_with("bad_data: 1:12"), "{m}"),
            other => panic!("{other:?}"),
        }
        match read_answer(502, b"<html>\n<b>Bad Gateway</b>\n</html>") {
            Err(BadAnswer::Http(m)) => assert_eq!(m, "<html> <b>Bad Gateway</b> </html>"),
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 512,
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn mutated_answers_read_or_say_why(
            edits in crate::mutate::edits(6),
            error in proptest::prelude::any::<bool>(),
            status in proptest::sample::select(vec![200u16, 200, 400, 422, 500, 503]),
        ) {
            let seed = if error { ERROR } else { ANSWER };
            let body = crate::mutate::apply(seed.as_bytes(), &edits);
            match samples_from(&body, status) {
                Ok(samples) => {
                    for s in &samples {
                        proptest::prop_assert!((START..=END).contains(&s.timestamp), "{s:?}");
                    }
                    // One sample per minute, in order, as History::extend expects.
                    proptest::prop_assert!(
                        samples.windows(2).all(|w| w[0].timestamp < w[1].timestamp)
                    );
                }
                Err(BadAnswer::Http(m) | BadAnswer::Body(m)) => {
                    proptest::prop_assert!(!m.contains('\n'), "{m}");
                }
            }
        }
    }

    #[test]
    fn the_headline_says_where_history_came_from_or_why_there_is_none() {
        let key = DeploymentKey::new("shop", "web");
        let mut b = Backfill {
            series: vec![(key.clone(), Vec::new())],
            source: "prometheus-k8s via API proxy".into(),
            lookback_seconds: 14 * 86_400,
            ..Backfill::default()
        };
        assert_eq!(b.headline(), "history: prometheus-k8s via API proxy, 14 d");
        b.lookback_seconds = 36 * 3600;
        assert_eq!(b.headline(), "history: prometheus-k8s via API proxy, 36 h");
        b.series.clear();
        b.skipped
            .push((key, "no container series for pods web-*-* in shop".into()));
        assert_eq!(
            b.headline(),
            "no history from prometheus-k8s via API proxy for shop/web (no container series for pods web-*-* in shop)"
        );
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        let e = PrometheusSource::new("ftp://x", PrometheusOptions::default()).expect_err("ftp");
        assert!(e.to_string().contains("http://"), "{e}");
        assert!(PrometheusSource::new("not a url", PrometheusOptions::default()).is_err());
        let p = PrometheusSource::new("http://u:secret@h:9090/prom", PrometheusOptions::default())
            .expect("valid");
        assert!(!format!("{p:?}").contains("secret"));
        let direct = HttpTransport::new("http://u:secret@h:9090/prom", Duration::from_secs(1))
            .expect("valid");
        assert_eq!(direct.base().as_str(), "http://u:secret@h:9090/prom/");
        assert!(!p.describe().contains("secret"), "{}", p.describe());
    }
}
