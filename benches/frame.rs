//! One full TUI frame at 160x48 with 1,000, 5,000 and 50,000 deployments (goals: < 2 ms at
//! 5,000, < 1 ms at 50,000), in name order and sorted by CPU; and the re-sort a snapshot
//! makes at 50,000 (cached sort keys), beside the row-comparing sort it replaced.
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
use ai4k8s::tui::preview::{app_from_world, replicate, replicate_light};
use ai4k8s::tui::rows::SortColumn;
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
    for total in [1_000usize, 5_000, 50_000] {
        let copies = total.div_ceil(per_copy);
        let mut app = if total > 5_000 {
            // Only the selected row's history is drawn; copying every one would be gigabytes.
            replicate_light(&base, copies, copies * per_copy / 2)
        } else {
            replicate(&base, copies)
        };
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
    // Sorted by CPU: the order is made when the data changes (`refresh_visible`), not per frame.
    let mut app = replicate_light(&base, 50_000usize.div_ceil(per_copy), 25_000);
    app.sort_by(SortColumn::Cpu);
    let mut term = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    group.bench_function("50000_sorted_by_cpu", |b| {
        b.iter(|| {
            ui::prepare(&mut app, Rect::new(0, 0, 160, 48));
            term.draw(|f| ui::render(f, black_box(&app))).expect("draw");
        })
    });
    group.finish();

    // What a re-sort costs when a snapshot arrives at 50,000.
    let mut app = replicate_light(&base, 50_000usize.div_ceil(per_copy), 25_000);
    app.sort_by(SortColumn::Cpu);
    c.bench_function("refresh_visible_50000_sorted_by_cpu", |b| {
        b.iter(|| app.refresh_visible(None))
    });
    // The same order as the re-sort made it before (rows compared, names and all, in the
    // sort), for the before/after on one machine at one load.
    c.bench_function("compare_sort_50000_by_cpu", |b| {
        b.iter(|| {
            let mut rows: Vec<_> = app.deployments.values().map(|v| app.row_facts(v)).collect();
            rows.sort_by(|a, b| app.sort.compare(*a, *b));
            let keys: Vec<_> = rows.into_iter().map(|r| r.state.key.clone()).collect();
            black_box(keys)
        })
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
