//! One full TUI frame at 160x48 with 1,000 and 5,000 deployments (goal: < 2 ms at 5,000).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::hint::black_box;

use ai4k8s::advisor::Advisor;
use ai4k8s::config::AdvisorConfig;
use ai4k8s::sim::SimWorld;
use ai4k8s::tui::app::SessionInfo;
use ai4k8s::tui::preview::{app_from_world, replicate};
use ai4k8s::tui::ui;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

fn frame(c: &mut Criterion) {
    let world = SimWorld::demo(42, 48);
    let advisor = Advisor::rules_only(AdvisorConfig::default(), "no key");
    let base = app_from_world(&world, &advisor, SessionInfo::default());
    let per_copy = base.deployments.len();
    let mut group = c.benchmark_group("frame_160x48");
    for total in [1_000usize, 5_000] {
        let mut app = replicate(&base, total.div_ceil(per_copy));
        // Select a row in the middle so the table scrolls.
        app.selected = app.visible.len() / 2;
        let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
        group.bench_with_input(
            BenchmarkId::from_parameter(app.visible.len()),
            &(),
            |b, _| {
                b.iter(|| {
                    ui::prepare(&mut app, Rect::new(0, 0, 160, 48));
                    term.draw(|f| ui::render(f, black_box(&app))).expect("draw");
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
