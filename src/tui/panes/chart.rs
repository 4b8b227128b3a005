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
