//! CPU and memory sparklines of the selected deployment over the last day.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Paragraph, Sparkline};

use crate::metrics::History;
use crate::metrics::history::Metric;
use crate::tui::app::App;
use crate::tui::theme::Theme;

/// Hours a sparkline covers.
const HOURS: usize = 24;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let [cpu, mem] =
        Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(area);
    let Some(v) = app.selected_view() else {
        frame.render_widget(
            Block::bordered().title(" CPU ").border_style(theme.dim()),
            cpu,
        );
        frame.render_widget(
            Block::bordered()
                .title(" Memory ")
                .border_style(theme.dim()),
            mem,
        );
        return;
    };
    one(
        frame,
        cpu,
        &v.history,
        Metric::Cpu,
        v.state.cpu_pct,
        "CPU",
        theme,
    );
    one(
        frame,
        mem,
        &v.history,
        Metric::Memory,
        v.state.mem_pct,
        "Mem",
        theme,
    );
}

fn one(
    frame: &mut Frame,
    area: Rect,
    history: &History,
    metric: Metric,
    now: Option<f64>,
    label: &str,
    theme: &Theme,
) {
    let line = match metric {
        Metric::Cpu => theme.history_line(),
        _ => theme.memory_line(),
    };
    let inner_w = if area.height >= 3 {
        area.width.saturating_sub(2)
    } else {
        area.width
    } as usize;
    let buckets = downsample(history, metric, HOURS * 60, inner_w);
    let known: Vec<f64> = buckets.iter().flatten().copied().collect();
    let (lo, hi) = known
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    let now = now
        .map(|n| format!("{n:.0}%"))
        .unwrap_or_else(|| "?".into());
    let title = if known.is_empty() {
        format!(" {label} {now} ")
    } else {
        format!(" {label} {now} · {HOURS}h {lo:.0}–{hi:.0}% ")
    };
    let data: Vec<Option<u64>> = buckets
        .iter()
        .map(|b| b.map(|x| x.max(0.0).round() as u64))
        .collect();
    let spark = Sparkline::default()
        .data(data)
        .max(hi.max(1.0).ceil() as u64)
        .style(line);
    if area.height >= 3 {
        frame.render_widget(
            spark.block(Block::bordered().title(title).border_style(theme.dim())),
            area,
        );
    } else {
        // Cramped terminals: the label on one line, the bars on the next.
        let [label_row, bars] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
        frame.render_widget(
            Paragraph::new(title.trim().to_string()).style(theme.dim()),
            label_row,
        );
        frame.render_widget(spark, bars);
    }
}

/// The last `minutes` of a metric averaged into `width` buckets, oldest first; None where a
/// bucket has no sample.
pub fn downsample(
    history: &History,
    metric: Metric,
    minutes: usize,
    width: usize,
) -> Vec<Option<f64>> {
    if width == 0 {
        return Vec::new();
    }
    let (_, values) = history.regular(metric, minutes);
    if values.is_empty() {
        return Vec::new();
    }
    let per = values.len().div_ceil(width).max(1);
    values
        .chunks(per)
        .map(|c| {
            let known: Vec<f64> = c.iter().copied().filter(|x| x.is_finite()).collect();
            (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    #[test]
    fn downsample_averages_buckets_and_keeps_gaps() {
        let mut h = History::with_capacity(100);
        h.extend((1..=8).map(|i| Sample {
            timestamp: i * 60,
            cpu_pct: if i == 3 || i == 4 { f64::NAN } else { i as f64 },
            mem_pct: 0.0,
            replicas: 1,
            ready: 1,
        }));
        let b = downsample(&h, Metric::Cpu, 60, 4);
        assert_eq!(b, vec![Some(1.5), None, Some(5.5), Some(7.5)]);
    }
}
