//! The forecast chart: recent history, the 6-hour forecast with its band, and the HPA target.
//! The x axis is hours relative to the last sample (negative: past).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

use crate::metrics::history::Metric;
use crate::model::Forecast;
use crate::tui::app::{App, ChartMetric, Pane};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let focused = app.focus == Pane::Chart;
    let Some(v) = app.selected_view() else {
        frame.render_widget(
            Block::bordered()
                .title(" Forecast ")
                .border_style(theme.border(focused)),
            area,
        );
        return;
    };
    let (metric, label, forecast, target) = match app.chart_metric {
        ChartMetric::Cpu => (
            Metric::Cpu,
            "CPU",
            v.forecasts.as_ref().and_then(|f| f.cpu.as_ref()),
            v.state.hpa.as_ref().and_then(|h| h.target_cpu_pct),
        ),
        ChartMetric::Memory => (
            Metric::Memory,
            "Memory",
            v.forecasts.as_ref().and_then(|f| f.mem.as_ref()),
            v.state.hpa.as_ref().and_then(|h| h.target_mem_pct),
        ),
    };
    let title = match forecast {
        Some(f) if area.width < 70 => format!(
            " {label}% · {}{} ",
            f.model,
            if f.low_confidence { " (low conf.)" } else { "" }
        ),
        Some(f) => format!(
            " {label} % · {}h + 6h forecast · {}{} ",
            app.chart_history_hours,
            f.model,
            if f.low_confidence {
                " (low confidence)"
            } else {
                ""
            }
        ),
        None => format!(" {label} % · forecast pending "),
    };
    let block = Block::bordered()
        .title(title)
        .border_style(theme.border(focused));

    let minutes = app.chart_history_hours as usize * 60;
    let (start, values) = v.history.regular(metric, minutes);
    let Some(last_t) = v.history.last().map(|s| s.timestamp) else {
        frame.render_widget(
            Paragraph::new("no history yet")
                .style(theme.dim())
                .block(block),
            area,
        );
        return;
    };
    let hours = |t: i64| (t - last_t) as f64 / 3600.0;
    let history: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, y)| y.is_finite())
        .map(|(i, &y)| (hours(start + i as i64 * 60), y))
        .collect();
    let (mean, lower, upper) = forecast_lines(forecast, last_t);

    let x_min = -(app.chart_history_hours as f64);
    let x_max = 6.0;

    let y_top = history
        .iter()
        .chain(&upper)
        .map(|p| p.1)
        .chain(target.map(f64::from))
        .fold(10.0_f64, f64::max)
        * 1.1;
    let target_line: Vec<(f64, f64)> = target
        .map(|t| vec![(x_min, t as f64), (x_max, t as f64)])
        .unwrap_or_default();
    let now_line = [(0.0, 0.0), (0.0, y_top)];

    let x_labels = vec![
        Span::raw(format!("{x_min:.0}h")),
        Span::raw("now"),
        Span::raw("+6h"),
    ];
    let y_labels = vec![
        Span::raw("0"),
        Span::raw(format!("{:.0}", y_top / 2.0)),
        Span::raw(format!("{y_top:.0}")),
    ];
    // More points than the graph has braille dots across only cost segments.
    let dots = braille_columns(area, &y_labels, &x_labels);
    let thin = |p: Points| thin_to_dots(p, x_min, x_max, dots);
    let (history, mean, lower, upper) = (thin(history), thin(mean), thin(lower), thin(upper));
    let mut datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.now_line())
            .data(&now_line),
        Dataset::default()
            .name("band")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.band_line())
            .data(&upper),
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.band_line())
            .data(&lower),
        Dataset::default()
            .name("history")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.history_line())
            .data(&history),
        Dataset::default()
            .name("forecast")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.forecast_line())
            .data(&mean),
    ];
    if !target_line.is_empty() {
        datasets.push(
            Dataset::default()
                .name("HPA target")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.target_line())
                .data(&target_line),
        );
    }
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([x_min, x_max])
                .labels(x_labels)
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_top])
                .labels(y_labels)
                .style(theme.dim()),
        )
        .legend_position(None);
    frame.render_widget(chart, area);

    // Peak annotation under the title, where the legend would be.
    if let Some(f) = forecast
        && area.height > 4
        && area.width > 30
    {
        let text = Line::from(vec![
            Span::styled(" peak ", theme.dim()),
            Span::styled(format!("{:.0}%", f.peak.value), theme.forecast_line()),
            Span::styled(
                format!(" in {:.1}h ", hours(f.peak.timestamp).max(0.0)),
                theme.dim(),
            ),
        ]);
        let w = text.width() as u16;
        let r = Rect {
            x: area.x + area.width.saturating_sub(w + 1),
            y: area.y + 1,
            width: w.min(area.width),
            height: 1,
        };
        frame.render_widget(Paragraph::new(text), r);
    }
}

type Points = Vec<(f64, f64)>;

/// Braille dot columns of the chart's graph: the pane's inside, less the labels left of the y
/// axis and the axis itself, two dots a cell (as ratatui's `Chart` lays it out).
fn braille_columns(area: Rect, y_labels: &[Span], x_labels: &[Span]) -> usize {
    let inner = area.width.saturating_sub(2);
    let y_w = y_labels.iter().map(Span::width).max().unwrap_or(0) as u16;
    // The first x label is left-aligned under the axis: all but its last character is left of it.
    let x_w = x_labels
        .first()
        .map_or(0, |l| l.width() as u16)
        .saturating_sub(1);
    let left = y_w.max(x_w).min(inner / 3);
    usize::from(inner.saturating_sub(left + 1)) * 2
}

/// The points a line over `[x_min, x_max]` drawn `dots` wide needs: per dot column, its first
/// point, its lowest and highest (in time order) and its last, so every peak and trough and
/// the line's ends stay exactly where they were while the hundreds of segments that fall
/// within one column become at most three.
fn thin_to_dots(points: Points, x_min: f64, x_max: f64, dots: usize) -> Points {
    let span = x_max - x_min;
    if dots == 0 || points.len() <= dots * 4 || span <= 0.0 {
        return points;
    }
    // The canvas maps x to a dot as round((x - x_min) / span * (dots - 1)).
    let scale = (dots - 1) as f64 / span;
    let column = |x: f64| ((x - x_min) * scale).round().clamp(0.0, dots as f64) as usize;
    let mut out = Vec::with_capacity(dots * 4);
    let mut i = 0;
    while i < points.len() {
        let c = column(points[i].0);
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && column(points[j].0) == c {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let mut keep = [i, lo.min(hi), lo.max(hi), j - 1];
        keep.sort_unstable();
        let mut last = usize::MAX;
        for k in keep {
            if k != last {
                out.push(points[k]);
                last = k;
            }
        }
        i = j;
    }
    out
}

fn forecast_lines(f: Option<&Forecast>, last_t: i64) -> (Points, Points, Points) {
    let Some(f) = f else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let h = |t: i64| (t - last_t) as f64 / 3600.0;
    let mean = f.points.iter().map(|p| (h(p.timestamp), p.value)).collect();
    let lower = f.points.iter().map(|p| (h(p.timestamp), p.lower)).collect();
    let upper = f.points.iter().map(|p| (h(p.timestamp), p.upper)).collect();
    (mean, lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_columns_extremes_and_the_ends() {
        // 12 h of minutes, a spike and a dip, on a chart 60 dots across 18 h.
        let points: Points = (0..720)
            .map(|i| {
                let y = match i {
                    333 => 97.0,
                    500 => 3.0,
                    _ => 40.0 + (i % 7) as f64,
                };
                (-12.0 + i as f64 / 60.0, y)
            })
            .collect();
        let thin = thin_to_dots(points.clone(), -12.0, 6.0, 60);
        assert!(thin.len() <= 40 * 4, "{}", thin.len());
        assert!(thin.len() < points.len() / 4);
        assert_eq!(thin.first(), points.first());
        assert_eq!(thin.last(), points.last());
        assert!(thin.contains(&points[333]) && thin.contains(&points[500]));
        // In time order, and each column keeps its own range.
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0));
        for c in 0..40 {
            let in_col = |p: &&(f64, f64)| ((p.0 + 12.0) / 18.0 * 59.0).round() as usize == c;
            let max = |v: Vec<&(f64, f64)>| v.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            let min = |v: Vec<&(f64, f64)>| v.iter().map(|p| p.1).fold(f64::MAX, f64::min);
            let (all, kept): (Vec<_>, Vec<_>) = (
                points.iter().filter(in_col).collect(),
                thin.iter().filter(in_col).collect(),
            );
            assert_eq!(max(all.clone()), max(kept.clone()), "column {c}");
            assert_eq!(min(all), min(kept), "column {c}");
        }
        // Few points are left alone.
        let few: Points = vec![(-1.0, 1.0), (0.0, 2.0)];
        assert_eq!(thin_to_dots(few.clone(), -12.0, 6.0, 60), few);
    }
}
