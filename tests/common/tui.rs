//! The demo cluster as a TUI `App` with no engine behind it, and a drawn buffer as text: what
//! the TUI's snapshot and key tests start from.

use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::sim::SimWorld;
use ai4k8s::tui::app::{App, SessionInfo};
use ai4k8s::tui::preview::app_from_world;
use ratatui::buffer::Buffer;

/// The demo (seed 42, 48 h of warm-up) advised by the policy alone; `speed` as the status bar
/// shows it.
pub fn demo_app(speed: Option<f64>) -> App {
    let world = SimWorld::demo(42, 48);
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    app_from_world(
        &world,
        &advisor,
        SessionInfo {
            context: "demo".into(),
            speed,
            ..SessionInfo::default()
        },
    )
}

/// The buffer as text, one line per row, trailing spaces trimmed.
pub fn text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
