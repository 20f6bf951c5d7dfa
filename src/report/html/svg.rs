//! Small, dependency-free SVG charts.
//!
//! A chart maps data coordinates onto a rectangle of the drawing: an
//! [`Axis`] knows the range of its data and where its ticks go, and the
//! chart turns every value into a pixel position along it. Axes are
//! linear, except that a latency spectrum puts percentiles on the x axis
//! as `log10(1 / (1 - q))` — see [`percentile_position`] — so each decade
//! of the tail (90%, 99%, 99.9%, …) gets the same width: the tail is where
//! the interesting latencies live, and a linear axis would squeeze it
//! into the last pixel.
//!
//! Each chart renders to one `<svg class="plot">` element with a `<title>`
//! (its accessible name), a visible heading, axes with tick labels, the
//! data, and a legend underneath. The elements carry presentation
//! attributes rather than relying on a style sheet, so a chart also reads
//! correctly when copied out of the page. All text is escaped.
//!
//! Numbers are written with one decimal and never as `NaN` or `inf`: a
//! value that is not finite is drawn at zero rather than breaking the
//! drawing.

use std::fmt::Write as _;

use super::escape;

/// Colours for series, distinguishable with the common forms of colour
/// blindness (Okabe and Ito), in the order they are handed out.
pub const PALETTE: [&str; 7] = [
    "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#444444",
];

/// The `i`th colour of [`PALETTE`], starting over after the last.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A coordinate as SVG text: one decimal, and 0 for anything not finite.
pub fn coord(value: f64) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    // Avoid "-0.0" for tiny negative values.
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == 0.0 {
        "0".to_owned()
    } else {
        format!("{rounded:.1}")
    }
}

/// Where quantile `q` (0 ≤ q < 1) sits on a percentile axis: the number
/// of nines, `log10(1 / (1 - q))`, so 0% is at 0, 90% at 1, 99% at 2.
pub fn percentile_position(q: f64) -> f64 {
    let q = q.clamp(0.0, 1.0 - 1e-12);
    -(1.0 - q).log10()
}

/// A label on an axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Where, in data units.
    pub at: f64,
    /// What it says.
    pub label: String,
}

/// One axis: the range of data it shows and its ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The axis title, with its unit.
    pub label: String,
    /// The data value at the start of the axis.
    pub min: f64,
    /// The data value at its end (greater than `min`).
    pub max: f64,
    /// Labelled positions, each with a grid line.
    pub ticks: Vec<Tick>,
    /// Whether data is placed by its logarithm.
    pub logarithmic: bool,
}

impl Axis {
    /// A linear axis from 0 to a round number at or above `data_max`,
    /// with about five ticks.
    pub fn linear(label: &str, data_max: f64) -> Self {
        Self::linear_range(label, 0.0, data_max)
    }

    /// A linear axis from 0 with a little room above `data_max`, so a
    /// line at the maximum does not merge with the plot's edge.
    pub fn linear_with_headroom(label: &str, data_max: f64) -> Self {
        Self::linear(label, data_max * 1.05)
    }

    /// A linear axis covering `min..=max`, widened to round numbers.
    pub fn linear_range(label: &str, min: f64, max: f64) -> Self {
        let min = if min.is_finite() { min } else { 0.0 };
        let mut max = if max.is_finite() { max } else { min };
        if max <= min {
            max = min + 1.0;
        }
        let (start, end, step) = nice_scale(min, max);
        let decimals = decimals_for(step);
        let count = ((end - start) / step).round() as usize;
        let ticks = (0..=count)
            .map(|i| {
                let at = start + i as f64 * step;
                Tick {
                    at,
                    label: format!("{at:.decimals$}"),
                }
            })
            .collect();
        Self {
            label: label.to_owned(),
            min: start,
            max: end,
            ticks,
            logarithmic: false,
        }
    }

    /// A logarithmic axis over the whole decades around `min..=max`, for
    /// data spanning orders of magnitude. Ticks fall on each power of ten,
    /// and also on its doubles and fives when there are at most two
    /// decades. Values at or below zero are clamped to the axis's start.
    pub fn logarithmic(label: &str, min: f64, max: f64) -> Self {
        let usable = |v: f64| v.is_finite() && v > 0.0;
        let min = if usable(min) { min } else { 1.0 };
        let max = if usable(max) { max.max(min) } else { min };
        let low = (min.log10() + 1e-9).floor() as i32;
        let high = ((max.log10() - 1e-9).ceil() as i32).max(low + 1);
        let multiples: &[f64] = if high - low <= 2 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        let end = 10f64.powi(high);
        let ticks = (low..=high)
            .flat_map(|decade| multiples.iter().map(move |m| m * 10f64.powi(decade)))
            .filter(|at| *at <= end * (1.0 + 1e-9))
            .map(|at| Tick {
                at,
                label: format!("{at:.*}", decimals_for(at)),
            })
            .collect();
        Self {
            label: label.to_owned(),
            min: 10f64.powi(low),
            max: end,
            ticks,
            logarithmic: true,
        }
    }

    /// A percentile axis from 0% to `nines` nines (3 ends at 99.9%), with
    /// data placed by [`percentile_position`].
    pub fn percentile(nines: u32) -> Self {
        let nines = nines.max(1);
        let ticks = (0..=nines)
            .map(|n| Tick {
                at: f64::from(n),
                label: percent_label(n),
            })
            .collect();
        Self {
            label: "percentile".to_owned(),
            min: 0.0,
            max: f64::from(nines),
            ticks,
            logarithmic: false,
        }
    }

    /// Where `value` falls along the axis, 0 at `min` and 1 at `max`.
    fn fraction(&self, value: f64) -> f64 {
        let place = |v: f64| {
            if self.logarithmic {
                v.max(self.min).log10()
            } else {
                v
            }
        };
        let span = place(self.max) - place(self.min);
        if !value.is_finite() || span <= 0.0 {
            return 0.0;
        }
        (place(value) - place(self.min)) / span
    }
}

/// "0%", "90%", "99%", "99.9%", … for `nines` nines.
fn percent_label(nines: u32) -> String {
    match nines {
        0 => "0%".to_owned(),
        1 => "90%".to_owned(),
        2 => "99%".to_owned(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

/// Round bounds and a step for an axis covering `min..max` (`min < max`).
///
/// The step is 1, 2 or 5 times a power of ten. Among the steps that give
/// at most eight intervals, the one that wastes the least room beyond the
/// data wins, and between equals the one closest to five intervals: a
/// 15.6 s run gets 0–16 in steps of 2 rather than 0–20 in steps of 5.
fn nice_scale(min: f64, max: f64) -> (f64, f64, f64) {
    let range = max - min;
    let base = 10f64.powf((range / 10.0).log10().floor());
    let mut best: Option<(f64, f64, f64, usize)> = None;
    // 50 × base exceeds half the range, so at least that step fits.
    for multiple in [1.0, 2.0, 5.0, 10.0, 20.0, 50.0] {
        let step = multiple * base;
        let start = (min / step + 1e-9).floor() * step;
        let end = (max / step - 1e-9).ceil() * step;
        let intervals = ((end - start) / step).round() as usize;
        if intervals > 8 {
            continue;
        }
        let better = match best {
            None => true,
            Some((s, e, _, n)) => {
                let (span, best_span) = (end - start, e - s);
                span < best_span - 1e-9
                    || ((span - best_span).abs() <= 1e-9 && intervals.abs_diff(5) < n.abs_diff(5))
            }
        };
        if better {
            best = Some((start, end, step, intervals));
        }
    }
    let (start, end, step, _) = best.unwrap_or((min, max, range, 1));
    (start, end, step)
}

/// Decimals needed to write multiples of `step` exactly.
fn decimals_for(step: f64) -> usize {
    (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(6)
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub label: String,
    /// Its stroke colour.
    pub colour: &'static str,
    /// Dashed rather than solid.
    pub dashed: bool,
    /// Also mark each point with a dot (a single point always is).
    pub markers: bool,
    /// `(x, y)` in data units, in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A shaded stretch of the x axis, such as the measured window.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Start, in x data units.
    pub from: f64,
    /// End, in x data units.
    pub to: f64,
    /// Its name in the legend.
    pub label: String,
}

/// A horizontal reference line, such as "all cores busy".
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Where, in y data units.
    pub y: f64,
    /// Written at its right end.
    pub label: String,
}

/// A chart of lines over two axes.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Heading and accessible name.
    pub title: String,
    /// Width of the drawing in pixels (it scales with the page).
    pub width: f64,
    /// Height of the plotting area in pixels, axes and legend excluded.
    pub plot_height: f64,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Shaded x ranges, drawn first.
    pub bands: Vec<Band>,
    /// Reference lines.
    pub rules: Vec<Rule>,
    /// The data.
    pub series: Vec<Series>,
}

/// Pixel layout shared by the charts.
const TOP: f64 = 36.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 30.0;
const AXIS_SPACE: f64 = 44.0;
const LEGEND_ROW: f64 = 20.0;
/// An average glyph width at the charts' 12px font, for laying out text
/// without measuring it.
const CHAR_WIDTH: f64 = 6.8;

const GRID: &str = "#e4e4e4";
const INK: &str = "#333333";
const MUTED: &str = "#666666";
const SHADE: &str = "#e8eef8";
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

impl LineChart {
    /// A chart with the default size and no bands or rules.
    pub fn new(title: &str, x: Axis, y: Axis, series: Vec<Series>) -> Self {
        Self {
            title: title.to_owned(),
            width: 960.0,
            plot_height: 260.0,
            x,
            y,
            bands: Vec::new(),
            rules: Vec::new(),
            series,
        }
    }

    /// The chart as an `<svg class="plot">` element.
    pub fn render(&self) -> String {
        let right = self.width - RIGHT;
        let bottom = TOP + self.plot_height;
        let px = |x: f64| LEFT + self.x.fraction(x) * (right - LEFT);
        let py = |y: f64| bottom - self.y.fraction(y) * self.plot_height;
        let legend: Vec<Key<'_>> = self
            .series
            .iter()
            .map(|s| Key::Line(&s.label, s.colour, s.dashed))
            .chain(self.bands.iter().map(|b| Key::Shade(&b.label)))
            .collect();
        let (legend_svg, legend_rows) = legend_rows(&legend, LEFT, bottom + AXIS_SPACE, right);
        let height = bottom + AXIS_SPACE + legend_rows as f64 * LEGEND_ROW + 8.0;

        let mut svg = open(&self.title, self.width, height);
        for band in &self.bands {
            let (from, to) = (px(band.from.max(self.x.min)), px(band.to.min(self.x.max)));
            rect(
                &mut svg,
                (from, TOP),
                (to - from, self.plot_height),
                SHADE,
                "",
            );
        }
        for tick in &self.y.ticks {
            let y = py(tick.at);
            line(&mut svg, (LEFT, y), (right, y), GRID, "");
            text(&mut svg, (LEFT - 6.0, y + 4.0), "end", MUTED, &tick.label);
        }
        for tick in &self.x.ticks {
            let x = px(tick.at);
            line(&mut svg, (x, TOP), (x, bottom), GRID, "");
            text(&mut svg, (x, bottom + 16.0), "middle", MUTED, &tick.label);
        }
        axes(&mut svg, (LEFT, right), bottom);
        text(
            &mut svg,
            ((LEFT + right) / 2.0, bottom + 36.0),
            "middle",
            INK,
            &self.x.label,
        );
        let _ = write!(
            svg,
            r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle" fill="{INK}">{}</text>"#,
            coord((TOP + bottom) / 2.0),
            escape(&self.y.label),
        );
        for rule in &self.rules {
            let y = py(rule.y);
            line(
                &mut svg,
                (LEFT, y),
                (right, y),
                MUTED,
                r#" stroke-dasharray="2 3""#,
            );
            text(&mut svg, (right - 4.0, y - 4.0), "end", MUTED, &rule.label);
        }
        for series in &self.series {
            let points: Vec<String> = series
                .points
                .iter()
                .map(|&(x, y)| format!("{},{}", coord(px(x)), coord(py(y))))
                .collect();
            if points.len() > 1 {
                let _ = write!(
                    svg,
                    r#"<polyline fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"{} points="{}"/>"#,
                    series.colour,
                    dash(series.dashed),
                    points.join(" "),
                );
            }
            if series.markers || points.len() == 1 {
                for &(x, y) in &series.points {
                    let _ = write!(
                        svg,
                        r#"<circle cx="{}" cy="{}" r="3" fill="{}"/>"#,
                        coord(px(x)),
                        coord(py(y)),
                        series.colour,
                    );
                }
            }
        }
        svg.push_str(&legend_svg);
        svg.push_str("</svg>");
        svg
    }
}

/// One bar of a [`BarChart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Written left of the bar.
    pub label: String,
    /// Its length, in x data units.
    pub value: f64,
    /// Its fill.
    pub colour: &'static str,
    /// Written right of the bar, e.g. the count and share.
    pub note: String,
}

/// Horizontal bars, one per row, over a linear axis from zero.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Heading and accessible name.
    pub title: String,
    /// Width of the drawing in pixels (it scales with the page).
    pub width: f64,
    /// What the bars measure, with the unit.
    pub x_label: String,
    /// Top to bottom.
    pub bars: Vec<Bar>,
}

const BAR_ROW: f64 = 24.0;

impl BarChart {
    /// The chart as an `<svg class="plot">` element.
    pub fn render(&self) -> String {
        let longest = self
            .bars
            .iter()
            .map(|b| b.label.chars().count())
            .max()
            .unwrap_or(0);
        let left = (longest as f64 * CHAR_WIDTH + 16.0).clamp(LEFT, self.width / 2.0);
        let longest_note = self
            .bars
            .iter()
            .map(|b| b.note.chars().count())
            .max()
            .unwrap_or(0);
        // Room for the note after the longest bar.
        let right = self.width - RIGHT - longest_note as f64 * CHAR_WIDTH - 8.0;
        let right = right.max(left + 40.0);
        let data_max = self.bars.iter().map(|b| b.value).fold(0.0, f64::max);
        let axis = Axis::linear(&self.x_label, data_max);
        let px = |x: f64| left + axis.fraction(x) * (right - left);
        let bottom = TOP + self.bars.len().max(1) as f64 * BAR_ROW + 4.0;
        let height = bottom + AXIS_SPACE;

        let mut svg = open(&self.title, self.width, height);
        for tick in &axis.ticks {
            let x = px(tick.at);
            line(&mut svg, (x, TOP), (x, bottom), GRID, "");
            text(&mut svg, (x, bottom + 16.0), "middle", MUTED, &tick.label);
        }
        for (row, bar) in self.bars.iter().enumerate() {
            let y = TOP + row as f64 * BAR_ROW + 4.0;
            let end = px(bar.value.max(0.0));
            text(&mut svg, (left - 8.0, y + 12.0), "end", INK, &bar.label);
            // At least a sliver, so that a bar of zero is still seen as one.
            rect(
                &mut svg,
                (left, y),
                ((end - left).max(1.0), 16.0),
                bar.colour,
                "",
            );
            text(&mut svg, (end + 6.0, y + 12.0), "start", INK, &bar.note);
        }
        axes(&mut svg, (left, right), bottom);
        text(
            &mut svg,
            ((left + right) / 2.0, bottom + 36.0),
            "middle",
            INK,
            &self.x_label,
        );
        svg.push_str("</svg>");
        svg
    }
}

/// The opening of a chart: the element, its title, and the visible heading.
fn open(title: &str, width: f64, height: f64) -> String {
    let mut svg = format!(
        r#"<svg class="plot" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" font-family="{FONT}" font-size="12">"#,
        w = coord(width),
        h = coord(height),
    );
    let _ = write!(
        svg,
        r#"<title>{t}</title><text x="8" y="22" font-size="14" font-weight="600" fill="{INK}">{t}</text>"#,
        t = escape(title),
    );
    svg
}

/// The left and bottom axis lines of a plotting area spanning `x` across.
fn axes(svg: &mut String, (left, right): (f64, f64), bottom: f64) {
    line(svg, (left, TOP), (left, bottom), MUTED, "");
    line(svg, (left, bottom), (right, bottom), MUTED, "");
}

/// A `<line>`; `extra` holds further attributes, each with a leading space.
fn line(svg: &mut String, from: (f64, f64), to: (f64, f64), stroke: &str, extra: &str) {
    let _ = write!(
        svg,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}"{extra}/>"#,
        coord(from.0),
        coord(from.1),
        coord(to.0),
        coord(to.1),
    );
}

/// A `<rect>` with its top left corner at `at`; `extra` as for [`line`].
fn rect(svg: &mut String, at: (f64, f64), size: (f64, f64), fill: &str, extra: &str) {
    let _ = write!(
        svg,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}"{extra}/>"#,
        coord(at.0),
        coord(at.1),
        coord(size.0.max(0.0)),
        coord(size.1.max(0.0)),
    );
}

/// A `<text>` with its baseline at `at`, escaped.
fn text(svg: &mut String, at: (f64, f64), anchor: &str, fill: &str, content: &str) {
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
        coord(at.0),
        coord(at.1),
        escape(content),
    );
}

fn dash(dashed: bool) -> &'static str {
    if dashed {
        r#" stroke-dasharray="7 4""#
    } else {
        ""
    }
}

/// An entry of a legend.
enum Key<'a> {
    /// A series: its label, colour and whether it is dashed.
    Line(&'a str, &'static str, bool),
    /// A shaded band: its label.
    Shade(&'a str),
}

/// A legend laid out in rows from `left` to `right`, starting at `top`:
/// the SVG and the number of rows used.
fn legend_rows(entries: &[Key<'_>], left: f64, top: f64, right: f64) -> (String, usize) {
    let mut svg = String::new();
    if entries.is_empty() {
        return (svg, 0);
    }
    let (mut x, mut row) = (left, 0usize);
    for entry in entries {
        let label = match entry {
            Key::Line(label, ..) | Key::Shade(label) => label,
        };
        let width = 30.0 + label.chars().count() as f64 * CHAR_WIDTH + 18.0;
        if x > left && x + width > right {
            x = left;
            row += 1;
        }
        let y = top + row as f64 * LEGEND_ROW + 10.0;
        match entry {
            Key::Line(_, colour, dashed) => {
                let extra = format!(r#" stroke-width="2.5"{}"#, dash(*dashed));
                line(&mut svg, (x, y), (x + 24.0, y), colour, &extra);
            }
            Key::Shade(_) => {
                let extra = format!(r#" stroke="{GRID}""#);
                rect(&mut svg, (x, y - 6.0), (24.0, 12.0), SHADE, &extra);
            }
        }
        text(&mut svg, (x + 30.0, y + 4.0), "start", INK, label);
        x += width;
    }
    (svg, row + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_axes_end_on_round_numbers() {
        let axis = Axis::linear("ms", 87.0);
        assert_eq!((axis.min, axis.max), (0.0, 100.0));
        let labels: Vec<&str> = axis.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0", "20", "40", "60", "80", "100"]);

        let small = Axis::linear("ms", 0.37);
        assert_eq!(small.max, 0.4);
        assert_eq!(small.ticks[1].label, "0.1");

        // Seconds: a tight, even scale rather than a round but loose one.
        let time = Axis::linear("s", 15.6);
        assert_eq!((time.max, time.ticks[1].at), (16.0, 2.0));
        assert_eq!(Axis::linear("s", 12.0).max, 12.0);
        let offset = Axis::linear_range("s", 3.2, 7.9);
        assert_eq!((offset.min, offset.max), (3.0, 8.0));

        // A maximum already on a tick is not pushed to the next one.
        assert_eq!(Axis::linear("ms", 50.0).max, 50.0);
    }

    #[test]
    fn logarithmic_axes_give_each_decade_equal_room() {
        let axis = Axis::logarithmic("ms", 3.0, 540.0);
        assert_eq!((axis.min, axis.max), (1.0, 1000.0));
        let labels: Vec<&str> = axis.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1", "10", "100", "1000"]);
        assert!((axis.fraction(10.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((axis.fraction(100.0) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(axis.fraction(0.0), 0.0, "zero sits at the start");

        // Two decades or fewer: doubles and fives too, fractions written out.
        let narrow = Axis::logarithmic("ms", 0.3, 8.0);
        let labels: Vec<&str> = narrow.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["0.1", "0.2", "0.5", "1", "2", "5", "10"]);

        // Nothing usable still makes an axis.
        let odd = Axis::logarithmic("ms", f64::NAN, -1.0);
        assert!(odd.max > odd.min && odd.ticks.len() >= 2, "{odd:?}");
    }

    #[test]
    fn degenerate_ranges_still_make_an_axis() {
        for max in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            let axis = Axis::linear("x", max);
            assert!(axis.max > axis.min, "{max}: {axis:?}");
            assert!(axis.ticks.len() >= 2, "{max}: {axis:?}");
        }
    }

    #[test]
    fn percentile_axes_count_nines() {
        let labels: Vec<String> = Axis::percentile(4)
            .ticks
            .into_iter()
            .map(|t| t.label)
            .collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
        assert_eq!(percentile_position(0.0), 0.0);
        assert!((percentile_position(0.99) - 2.0).abs() < 1e-9);
        assert!(percentile_position(1.0).is_finite());
    }

    #[test]
    fn coordinates_are_always_numbers() {
        assert_eq!(coord(12.345), "12.3");
        assert_eq!(coord(-0.01), "0");
        assert_eq!(coord(f64::NAN), "0");
        assert_eq!(coord(f64::NEG_INFINITY), "0");
    }

    #[test]
    fn a_line_chart_draws_its_series_and_escapes_text() {
        let chart = LineChart::new(
            "a <b> chart",
            Axis::linear("x", 2.0),
            Axis::linear("y", 10.0),
            vec![
                Series {
                    label: "two & more".into(),
                    colour: colour(0),
                    dashed: false,
                    markers: false,
                    points: vec![(0.0, 1.0), (1.0, 5.0), (2.0, 10.0)],
                },
                Series {
                    label: "one".into(),
                    colour: colour(1),
                    dashed: true,
                    markers: false,
                    points: vec![(1.0, f64::NAN)],
                },
            ],
        )
        .render();
        assert!(chart.starts_with(r#"<svg class="plot""#), "{chart}");
        assert!(chart.contains("<title>a &lt;b&gt; chart</title>"));
        assert!(chart.contains("two &amp; more"));
        assert_eq!(chart.matches("<polyline").count(), 1);
        assert_eq!(chart.matches("<circle").count(), 1, "a lone point is a dot");
        assert!(!chart.contains("NaN") && !chart.contains("inf"));
    }

    #[test]
    fn a_bar_chart_has_a_bar_per_row() {
        let chart = BarChart {
            title: "errors".into(),
            width: 960.0,
            x_label: "failures".into(),
            bars: vec![
                Bar {
                    label: "op · unavailable".into(),
                    value: 80.0,
                    colour: colour(0),
                    note: "80 (5.00%)".into(),
                },
                Bar {
                    label: "op · <odd>".into(),
                    value: 0.0,
                    colour: colour(0),
                    note: "0".into(),
                },
            ],
        }
        .render();
        assert_eq!(chart.matches("<rect").count(), 2);
        assert!(chart.contains("op · &lt;odd&gt;"));
    }
}
