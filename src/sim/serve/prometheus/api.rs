//! The Prometheus HTTP API's endpoints and its JSON, as Prometheus writes it:
//! `{"status":"success","data":{"resultType":"matrix","result":[...]}}`, values as strings,
//! timestamps as seconds; errors as `{"status":"error","errorType":"bad_data","error":...}`.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::eval::{self, Labels, Points, Series, Steps, Value};
use super::query::{self, Expr};
use super::series::{HistorySource, LABEL_NAMES};
use crate::sim::serve::http::{self as h, Body, Query};

/// Prometheus refuses range queries of more points per series than this.
const MAX_POINTS: i64 = 11_000;

/// A result's `data`: a JSON value, or JSON already written.
enum Data {
    Json(Json),
    Raw(String),
}

impl From<Json> for Data {
    fn from(j: Json) -> Self {
        Data::Json(j)
    }
}

/// Answer `path` (below the Prometheus root) with `params` (the query string, or a form body).
pub fn answer(source: &HistorySource, path: &[&str], params: &Query) -> http::Response<Body> {
    let result = match path {
        ["api", "v1", "query"] => instant(source, params).map(Data::from),
        ["api", "v1", "query_range"] => range(source, params),
        ["api", "v1", "series"] => series(source, params).map(Data::from),
        ["api", "v1", "labels"] => labels(source, params).map(Data::from),
        ["api", "v1", "status", "buildinfo"] => Ok(Data::Json(json!({
            "version": "2.42.0",
            "revision": "ai4k8s-sim",
            "branch": "sim",
            "buildUser": "ai4k8s",
            "buildDate": "20230101-00:00:00",
            "goVersion": "go1.19"
        }))),
        ["-", "ready"] => {
            return h::respond(
                200,
                "text/plain; charset=utf-8",
                "Prometheus Server is Ready.\n",
            );
        }
        ["-", "healthy"] => {
            return h::respond(
                200,
                "text/plain; charset=utf-8",
                "Prometheus Server is Healthy.\n",
            );
        }
        _ => return h::respond(404, "text/plain; charset=utf-8", "404 page not found\n"),
    };
    match result {
        Ok(Data::Json(data)) => {
            h::json(200, json!({"status": "success", "data": data}).to_string())
        }
        Ok(Data::Raw(data)) => h::json(200, format!(r#"{{"status":"success","data":{data}}}"#)),
        Err(e) => h::json(
            400,
            json!({"status": "error", "errorType": "bad_data", "error": e}).to_string(),
        ),
    }
}

fn parse_query(params: &Query) -> Result<Expr, String> {
    let q = params.get("query").unwrap_or_default();
    query::parse(q).map_err(|e| format!("invalid parameter \"query\": {e}"))
}

/// A time parameter: Unix seconds (fractions allowed) or RFC 3339; ms.
fn time_param(params: &Query, name: &str, default: i64) -> Result<i64, String> {
    match params.get(name) {
        None | Some("") => Ok(default),
        Some(v) => parse_time(v).ok_or_else(|| {
            format!("invalid parameter \"{name}\": cannot parse \"{v}\" to a valid timestamp")
        }),
    }
}

fn parse_time(v: &str) -> Option<i64> {
    if let Ok(f) = v.parse::<f64>() {
        return (f.is_finite() && f.abs() < 1e13).then(|| (f * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A step: seconds, or a duration such as `1m`; ms.
fn step_param(params: &Query) -> Result<i64, String> {
    let v = params.get("step").unwrap_or_default();
    let bad = || format!("invalid parameter \"step\": cannot parse \"{v}\" to a valid duration");
    let ms = match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f.abs() < 1e13 => (f * 1000.0).round() as i64,
        Ok(_) => return Err(bad()),
        Err(_) => match query::parse(&format!("x[{v}]")) {
            Ok(Expr::Range(_, ms)) => ms,
            _ => return Err(bad()),
        },
    };
    if ms <= 0 {
        return Err(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        );
    }
    Ok(ms)
}

fn instant(source: &HistorySource, params: &Query) -> Result<Json, String> {
    let e = parse_query(params)?;
    let t = time_param(params, "time", source.now_ms())?;
    let all = source.series(&e.selectors(), t - e.reach_ms(), t);
    let plan = eval::plan(&e, &all);
    let at = Steps {
        start: t,
        end: t,
        step: 1,
    };
    Ok(match eval::eval(&plan, at) {
        Value::Scalar(v) => json!({"resultType": "scalar", "result": [ts(t), value(v)]}),
        Value::Vector(v) => json!({
            "resultType": "vector",
            "result": v
                .into_iter()
                .filter_map(|(l, p)| Some(json!({"metric": l, "value": [ts(t), value(p.first()?.1)]})))
                .collect::<Vec<_>>()
        }),
    })
}

fn range(source: &HistorySource, params: &Query) -> Result<Data, String> {
    let e = parse_query(params)?;
    let start = time_param(params, "start", i64::MIN)?;
    let end = time_param(params, "end", i64::MIN)?;
    if start == i64::MIN {
        return Err("invalid parameter \"start\": cannot parse \"\" to a valid timestamp".into());
    }
    if end == i64::MIN {
        return Err("invalid parameter \"end\": cannot parse \"\" to a valid timestamp".into());
    }
    if end < start {
        return Err(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        );
    }
    let step = step_param(params)?;
    if (end - start) / step > MAX_POINTS {
        return Err("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into());
    }
    let all = source.series(&e.selectors(), start - e.reach_ms(), end);
    let plan = eval::plan(&e, &all);
    let steps = Steps { start, end, step };
    let series: Vec<(Labels, Points)> = match eval::eval(&plan, steps) {
        Value::Scalar(v) => vec![(
            Labels::new(),
            steps.within(start, end).map(|t| (t, v)).collect(),
        )],
        Value::Vector(mut series) => {
            series.sort_by(|a, b| a.0.cmp(&b.0));
            series
        }
    };
    Ok(Data::Raw(matrix_json(&series)))
}

/// A matrix written straight to text: two weeks of minutes are 20,000 points per series, and
/// a `serde_json::Value` per point costs more than the query.
fn matrix_json(series: &[(Labels, Points)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(r#"{"resultType":"matrix","result":["#);
    for (i, (labels, points)) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"{{"metric":{},"values":["#, json!(labels));
        for (j, (t, v)) in points.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, r#"[{},"{}"]"#, ts(*t), value(*v));
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

/// `match[]` selectors (at least one), parsed.
fn matches(params: &Query) -> Result<Vec<Expr>, String> {
    let Some(m) = params.get("match[]").filter(|m| !m.is_empty()) else {
        return Err("no match[] parameter provided".into());
    };
    match query::parse(m) {
        Ok(e @ Expr::Vector(_)) => Ok(vec![e]),
        Ok(_) => Err(format!(
            "invalid parameter \"match[]\": {m:?} is not a vector selector"
        )),
        Err(e) => Err(format!("invalid parameter \"match[]\": {e}")),
    }
}

fn matching_series(source: &HistorySource, params: &Query) -> Result<Vec<Series>, String> {
    let exprs = matches(params)?;
    let selectors: Vec<_> = exprs.iter().flat_map(Expr::selectors).collect();
    let start = time_param(params, "start", 0)?;
    let end = time_param(params, "end", source.now_ms())?;
    Ok(source.series(&selectors, start, end))
}

fn series(source: &HistorySource, params: &Query) -> Result<Json, String> {
    let mut sets: Vec<Labels> = matching_series(source, params)?
        .into_iter()
        .map(|s| s.labels)
        .collect();
    sets.sort();
    sets.dedup();
    Ok(json!(sets))
}

fn labels(source: &HistorySource, params: &Query) -> Result<Json, String> {
    if params.get("match[]").is_none() {
        return Ok(json!(LABEL_NAMES));
    }
    let names: BTreeSet<String> = matching_series(source, params)?
        .into_iter()
        .flat_map(|s| s.labels.into_keys())
        .collect();
    Ok(json!(names))
}

/// A timestamp as Prometheus writes it: seconds, with a fraction only when there is one.
fn ts(ms: i64) -> Json {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// A sample value as Prometheus writes it (Go's `FormatFloat(v, 'f', -1, 64)`).
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}
