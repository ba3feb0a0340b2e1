//! `queue-length.svg`: effective queue length against backlog, per OS. Hand-written SVG:
//! measured points are solid, the model's points hollow, with a legend that says which is which.

use super::{Corpus, default_backlogs};
use backlog_probe::plan::Family;
use backlog_probe::predict::{self, OsFamily};

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 570.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 360.0;
/// Room below the "1" line for the "0" row (a log axis has no zero).
const ZERO_GAP: f64 = 22.0;

/// The x axis, in numeric order of the value each OS passes.
const CATEGORIES: [&str; 7] = ["i32::min", "-1", "0", "1", "5", "somaxconn", "i32::max"];

fn colour(os: OsFamily) -> &'static str {
    match os {
        OsFamily::Linux => "#1f77b4",
        OsFamily::Macos => "#d62728",
        OsFamily::Freebsd => "#2ca02c",
        OsFamily::Windows => "#9467bd",
        OsFamily::Gvisor => "#ff7f0e",
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One plotted value.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    category: usize,
    value: Option<u32>,
    measured: bool,
    title: String,
}

/// One OS's points: measured ones if a native report exists, and the model's for every
/// category.
fn series(corpus: &Corpus<'_>, os: OsFamily) -> (Vec<Point>, Vec<Point>) {
    let limits = corpus.limits(os);
    let backlogs = default_backlogs(&limits);
    let mut measured = Vec::new();
    let mut predicted = Vec::new();
    let report = corpus.measured(os).first().map(|s| &s.report);
    for (category, label) in CATEGORIES.iter().enumerate() {
        let Some(backlog) = backlogs.iter().find(|b| b.label == *label) else {
            continue;
        };
        let prediction = predict::predict(os, backlog.value, &limits);
        predicted.push(Point {
            category,
            value: prediction.queue_length,
            measured: false,
            title: format!(
                "{} listen({}): {} predicted by the model, not measured",
                os.display_name(),
                backlog.value,
                prediction
                    .queue_length
                    .map_or_else(|| "unknown".to_string(), |v| v.to_string())
            ),
        });
        if let Some(report) = report {
            let case = report
                .cases
                .iter()
                .filter(|c| c.label == *label && c.queue_length.is_some())
                .min_by_key(|c| c.family != Family::Ipv4);
            if let Some(case) = case {
                measured.push(Point {
                    category,
                    value: case.queue_length,
                    measured: true,
                    title: format!(
                        "{} listen({}): {} measured ({})",
                        os.display_name(),
                        case.backlog,
                        case.queue_length.unwrap_or(0),
                        case.family
                    ),
                });
            }
        }
    }
    (measured, predicted)
}

/// The top of the y axis: the smallest power of ten at or above every value (at least 10^4).
pub(super) fn top_decade(values: impl Iterator<Item = u32>) -> u32 {
    let max = values.max().unwrap_or(1).max(10_000);
    let mut decade = 0;
    while 10u64.pow(decade) < u64::from(max) {
        decade += 1;
    }
    decade
}

fn y_of(value: u32, decades: u32) -> f64 {
    if value == 0 {
        return BOTTOM;
    }
    let span = BOTTOM - ZERO_GAP - TOP;
    BOTTOM - ZERO_GAP - f64::from(value).log10() / f64::from(decades) * span
}

fn x_of(category: usize, os_index: usize) -> f64 {
    let step = (RIGHT - LEFT) / CATEGORIES.len() as f64;
    // A small sideways offset per OS keeps equal values apart.
    let dodge = (os_index as f64 - 1.5) * 7.0;
    LEFT + step * (category as f64 + 0.5) + dodge
}

pub(super) fn render(corpus: &Corpus<'_>) -> String {
    let all: Vec<(OsFamily, Vec<Point>, Vec<Point>)> = OsFamily::ALL
        .iter()
        .map(|&os| {
            let (measured, predicted) = series(corpus, os);
            (os, measured, predicted)
        })
        .collect();
    let decades = top_decade(
        all.iter()
            .flat_map(|(_, m, p)| m.iter().chain(p))
            .filter_map(|p| p.value),
    );
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    ));
    out.push_str("<title>Effective accept-queue length against listen() backlog, per OS</title>\n");
    out.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n"
    ));
    out.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"26\" font-size=\"15\" font-weight=\"bold\">Effective accept-queue length by listen() backlog</text>\n"
    ));
    // Grid and y axis.
    for decade in 0..=decades {
        let value = 10u32.pow(decade);
        let y = y_of(value, decades);
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{RIGHT}\" y2=\"{y:.1}\" stroke=\"#dddddd\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{value}</text>\n",
            LEFT - 6.0,
            y + 4.0
        ));
    }
    out.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{RIGHT}\" y2=\"{BOTTOM}\" stroke=\"#dddddd\" stroke-dasharray=\"2 3\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>\n",
        LEFT - 6.0,
        BOTTOM + 4.0
    ));
    out.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{BOTTOM}\" stroke=\"#333333\"/>\n<line x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{RIGHT}\" y2=\"{BOTTOM}\" stroke=\"#333333\"/>\n"
    ));
    out.push_str(&format!(
        "<text x=\"18\" y=\"{:.1}\" transform=\"rotate(-90 18 {:.1})\" text-anchor=\"middle\">queue length (log scale)</text>\n",
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0
    ));
    for (category, label) in CATEGORIES.iter().enumerate() {
        let x = x_of(category, 1) + 3.5;
        let shown = if *label == "somaxconn" {
            "SOMAXCONN"
        } else {
            label
        };
        out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            BOTTOM + 20.0,
            xml_escape(shown)
        ));
    }
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">backlog passed to listen() (SOMAXCONN is each OS's constant)</text>\n",
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 42.0
    ));
    // Series.
    for (index, (os, measured, predicted)) in all.iter().enumerate() {
        let colour = colour(*os);
        let has_measured = !measured.is_empty();
        // One polyline per run of known values: a line never bridges an unknown point.
        let line = |points: &[Point], dashed: bool| {
            let mut runs: Vec<Vec<String>> = vec![Vec::new()];
            for point in points {
                match point.value {
                    Some(v) => runs.last_mut().map_or((), |run| {
                        run.push(format!(
                            "{:.1},{:.1}",
                            x_of(point.category, index),
                            y_of(v, decades)
                        ));
                    }),
                    None => runs.push(Vec::new()),
                }
            }
            runs.iter()
                .filter(|run| run.len() > 1)
                .map(|run| {
                    format!(
                        "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"{}/>\n",
                        run.join(" "),
                        if dashed {
                            " stroke-dasharray=\"5 4\""
                        } else {
                            ""
                        }
                    )
                })
                .collect::<String>()
        };
        out.push_str(&format!("<g id=\"series-{os}\">\n"));
        if has_measured {
            out.push_str(&line(measured, false));
        } else {
            out.push_str(&line(predicted, true));
        }
        for point in predicted {
            let x = x_of(point.category, index);
            match point.value {
                Some(v) => out.push_str(&format!(
                    "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"><title>{}</title></circle>\n",
                    y_of(v, decades),
                    if has_measured { 7.5 } else { 5.0 },
                    xml_escape(&point.title)
                )),
                None => out.push_str(&format!(
                    "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{colour}\" font-weight=\"bold\">?<title>{}</title></text>\n",
                    TOP - 6.0,
                    xml_escape(&point.title)
                )),
            }
        }
        for point in measured {
            if let Some(v) = point.value {
                out.push_str(&format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"{colour}\" stroke=\"{colour}\"><title>{}</title></circle>\n",
                    x_of(point.category, index),
                    y_of(v, decades),
                    xml_escape(&point.title)
                ));
            }
        }
        out.push_str("</g>\n");
    }
    // Legend.
    let legend_x = RIGHT + 25.0;
    let mut y = TOP + 4.0;
    out.push_str(&format!(
        "<text x=\"{legend_x}\" y=\"{y}\" font-weight=\"bold\">OS</text>\n"
    ));
    for (os, measured, _) in &all {
        y += 22.0;
        let colour = colour(*os);
        let (marker, words, dash) = if measured.is_empty() {
            (
                format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"/>",
                    legend_x + 12.0,
                    y - 4.0
                ),
                "predicted, not measured",
                " stroke-dasharray=\"5 4\"",
            )
        } else {
            (
                format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"{colour}\"/>",
                    legend_x + 12.0,
                    y - 4.0
                ),
                "measured",
                "",
            )
        };
        out.push_str(&format!(
            "<line x1=\"{legend_x}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash}/>{marker}\n<text x=\"{:.1}\" y=\"{y:.1}\">{}: {words}</text>\n",
            y - 4.0,
            legend_x + 24.0,
            y - 4.0,
            legend_x + 32.0,
            os.display_name()
        ));
    }
    y += 34.0;
    out.push_str(&format!(
        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\" fill=\"#555555\"/><text x=\"{:.1}\" y=\"{y:.1}\">solid: measured</text>\n",
        legend_x + 12.0,
        y - 4.0,
        legend_x + 32.0
    ));
    y += 20.0;
    out.push_str(&format!(
        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"none\" stroke=\"#555555\" stroke-width=\"1.8\"/><text x=\"{:.1}\" y=\"{y:.1}\">hollow: predicted (model)</text>\n",
        legend_x + 12.0,
        y - 4.0,
        legend_x + 32.0
    ));
    y += 20.0;
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{y:.1}\" font-weight=\"bold\">?</text><text x=\"{:.1}\" y=\"{y:.1}\">model has no number</text>\n",
        legend_x + 9.0,
        legend_x + 32.0
    ));
    y += 28.0;
    for line in [
        "A ring around a solid point:",
        "the model agrees with",
        "the measurement.",
    ] {
        out.push_str(&format!(
            "<text x=\"{legend_x}\" y=\"{y:.1}\" fill=\"#555555\">{line}</text>\n"
        ));
        y += 16.0;
    }
    out.push_str("</svg>\n");
    out
}
