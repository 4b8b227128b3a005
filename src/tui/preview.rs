//! An `App` filled synchronously from a simulated world, the way the engine would fill it over
//! time: snapshot, history, forecasts and rules recommendations. Snapshot tests and the frame
//! benchmark draw exactly what the running app draws, without a runtime.

use std::sync::Arc;

use crate::advisor::Advisor;
use crate::engine::Update;
use crate::forecast::ForecastOptions;
use crate::metrics::History;
use crate::model::DeploymentKey;
use crate::pipeline;
use crate::sim::SimWorld;

use super::app::{App, SessionInfo};
use crate::config::UI_HISTORY_MINUTES;

/// The app as it looks once the engine has caught up with `world`.
pub fn app_from_world(world: &SimWorld, advisor: &Advisor, session: SessionInfo) -> App {
    let mut app = App::new(session);
    let snapshot = world.snapshot();
    let history = world.history();
    app.on_update(Update::LlmStatus(advisor.llm_status()));
    app.on_update(Update::Backfill(
        history
            .iter()
            .map(|(k, s)| {
                let tail = s.len().saturating_sub(UI_HISTORY_MINUTES);
                (k.clone(), s[tail..].to_vec())
            })
            .collect(),
    ));
    app.on_update(Update::Snapshot(Arc::new(snapshot.clone())));
    for (key, samples) in history {
        let mut h = History::with_capacity(crate::metrics::HISTORY_MINUTES);
        h.extend(samples);
        let forecasts = pipeline::forecast_history(&h, ForecastOptions::default());
        if let Some(state) = snapshot.deployments.iter().find(|d| d.key == key) {
            let inputs = pipeline::inputs(state, &forecasts, Some(&h), None, snapshot.time);
            app.on_update(Update::Recommendation(Arc::new(
                advisor.policy(&inputs, Some("no key".into())),
            )));
        }
        app.on_update(Update::Forecasts(key, Arc::new(forecasts)));
    }
    app
}

/// `copies` renamed copies of every deployment of `app` (for benchmarks at scale): the copies
/// share their histories' shapes, so a frame costs what it would with that many deployments.
pub fn replicate(app: &App, copies: usize) -> App {
    let mut out = app.clone();
    out.deployments.clear();
    for i in 0..copies {
        for (key, view) in &app.deployments {
            let mut v = view.clone();
            let k = DeploymentKey::new(
                format!("{}-{}", key.namespace, i % 50),
                format!("{}-{i:05}", key.name),
            );
            v.state.key = k.clone();
            out.deployments.insert(k, v);
        }
    }
    out.refresh_visible(None);
    out
}

/// `replicate` for fleets too big to copy every history (50,000 × 36 h is gigabytes): only
/// the row at `keep` (an index into the visible rows) keeps its history, the one panes draw;
/// the table reads none.
pub fn replicate_light(app: &App, copies: usize, keep: usize) -> App {
    let mut light = app.clone();
    for v in light.deployments.values_mut() {
        v.history = History::with_capacity(1);
    }
    let mut out = replicate(&light, copies);
    let kept = out.visible.get(keep).cloned().and_then(|k| {
        Some((
            k,
            app.deployments.values().nth(keep % app.deployments.len())?,
        ))
    });
    if let Some((key, original)) = kept
        && let Some(v) = out.deployments.get_mut(&key)
    {
        v.history = original.history.clone();
    }
    out.selected = keep.min(out.visible.len().saturating_sub(1));
    out
}
