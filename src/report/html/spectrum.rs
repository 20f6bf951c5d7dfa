//! Latency by percentile: the whole distribution in one line.
//!
//! A percentile table shows five points of a distribution; the spectrum
//! shows all of them. For each quantile `q` it plots the latency that a
//! fraction `q` of operations stayed under, with `q` on the "number of
//! nines" axis of [`percentile_position`](super::svg::percentile_position),
//! as HdrHistogram's plotter does. A flat line that jumps at 99% says one
//! operation in a hundred waits for something (a retry, a timer, a stall);
//! a line that climbs all the way says the time is spread out, as when
//! requests queue.
//!
//! The line is read off the histogram at a dense, even set of positions
//! along the axis (fifty per decade), which keeps its steps sharp, then
//! thinned where it is flat. It ends at the largest value recorded. The
//! axis reaches as many nines as the largest histogram can resolve (one
//! more nine per tenfold more samples), at least 99.9% so that the
//! summary table's percentiles are all on it, and at most 99.9999%.
//!
//! Past the quantile with fewer than ten samples beyond it the line is
//! only the few largest samples, not an estimate, so that stretch is
//! shaded: it is where `opmon compare` answers `?`.

use hdrhistogram::Histogram;

use super::svg::{colour, Axis, Band, LineChart, Series};
use crate::report::compare::evidence::BEYOND;

/// Points per decade of the percentile axis.
const STEPS_PER_NINE: u32 = 50;

/// One line of a spectrum.
#[derive(Debug, Clone)]
pub struct SpectrumLine<'a> {
    /// Its name in the legend.
    pub label: String,
    /// Microseconds.
    pub histogram: &'a Histogram<u64>,
    /// Its colour.
    pub colour: &'static str,
    /// Dashed rather than solid (e.g. service time beside response time).
    pub dashed: bool,
}

/// The spectrum of `lines` as a chart, or `None` when every histogram is
/// empty (there is then no latency to show). Empty histograms are left
/// out of the drawing.
pub fn spectrum_chart(title: &str, lines: &[SpectrumLine<'_>]) -> Option<LineChart> {
    let drawn: Vec<&SpectrumLine<'_>> = lines.iter().filter(|l| !l.histogram.is_empty()).collect();
    let samples = drawn.iter().map(|l| l.histogram.len()).max()?;
    let nines = ((samples as f64).log10().ceil() as u32).clamp(3, 6);
    let max_ms = drawn
        .iter()
        .map(|l| ms(l.histogram.max()))
        .fold(0.0, f64::max);
    // Lines whose medians differ tenfold (V3 beside V4, a stall beside a
    // healthy run) share a log scale, so the faster one is not flattened
    // against the floor.
    let medians = drawn.iter().map(|l| ms(l.histogram.value_at_quantile(0.5)));
    let (fastest, slowest) = medians.fold((f64::INFINITY, 0.0_f64), |(lo, hi), m| {
        (lo.min(m), hi.max(m))
    });
    let latency = if slowest >= 10.0 * fastest && fastest > 0.0 {
        let min_ms = drawn
            .iter()
            .map(|l| ms(l.histogram.min().max(1)))
            .fold(f64::INFINITY, f64::min);
        Axis::logarithmic("latency (ms, log scale)", min_ms, max_ms)
    } else {
        Axis::linear_with_headroom("latency (ms)", max_ms)
    };
    let series = drawn
        .iter()
        .map(|line| Series {
            label: line.label.clone(),
            colour: line.colour,
            dashed: line.dashed,
            markers: false,
            points: spectrum_points(line.histogram, nines),
        })
        .collect();
    let mut chart = LineChart::new(title, Axis::percentile(nines), latency, series);
    // On the nines axis, quantile 1 - BEYOND/n sits at log10(n / BEYOND).
    let fewest = drawn.iter().map(|l| l.histogram.len()).min()?;
    let data_ends = (fewest as f64 / BEYOND).log10().max(0.0);
    if data_ends < chart.x.max {
        chart.bands.push(Band {
            from: data_ends,
            to: chart.x.max,
            label: format!("fewer than {BEYOND} samples beyond"),
        });
    }
    Some(chart)
}

/// Several latency spectra overlaid in one `<svg class="plot">`, each
/// `(label, histogram of microseconds)` in its own colour, e.g. a base run
/// and a candidate. When all the histograms are empty, a short note in a
/// `<p class="note">` instead.
pub fn spectrum_svg(series: &[(String, Histogram<u64>)]) -> String {
    let lines: Vec<SpectrumLine<'_>> = series
        .iter()
        .enumerate()
        .map(|(i, (label, histogram))| SpectrumLine {
            label: label.clone(),
            histogram,
            colour: colour(i),
            dashed: false,
        })
        .collect();
    match spectrum_chart("Latency by percentile", &lines) {
        Some(chart) => chart.render(),
        None => r#"<p class="note">No successful operations: no latency to plot.</p>"#.to_owned(),
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `(position, ms)` along the percentile axis up to `nines`, ending at
/// the histogram's maximum, without the middle points of flat stretches.
fn spectrum_points(histogram: &Histogram<u64>, nines: u32) -> Vec<(f64, f64)> {
    let last = nines * STEPS_PER_NINE;
    let raw: Vec<(f64, f64)> = (0..=last)
        .map(|i| {
            let x = f64::from(i) / f64::from(STEPS_PER_NINE);
            let value = if i == last {
                histogram.max()
            } else {
                histogram.value_at_quantile(1.0 - 10f64.powf(-x))
            };
            // Quantile 0 reads the bottom of the smallest bucket and the
            // others its top; the top throughout keeps flat lines flat.
            (x, ms(histogram.highest_equivalent(value)))
        })
        .collect();
    raw.iter()
        .enumerate()
        .filter(|&(i, &(_, y))| {
            i == 0 || i == raw.len() - 1 || raw[i - 1].1 != y || raw[i + 1].1 != y
        })
        .map(|(_, &point)| point)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::new_histogram;

    fn histogram(values_us: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &v in values_us {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn the_line_climbs_to_the_maximum() {
        let values: Vec<u64> = (1..=1000).map(|i| i * 100).collect();
        let h = histogram(&values);
        let points = spectrum_points(&h, 3);
        assert_eq!(points[0].0, 0.0);
        assert_eq!(points.last().unwrap().0, 3.0);
        assert!((points.last().unwrap().1 - 100.0).abs() < 0.1);
        assert!(points
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
    }

    #[test]
    fn flat_stretches_are_thinned() {
        let h = histogram(&[5_000; 10]);
        let points = spectrum_points(&h, 3);
        assert_eq!(points.len(), 2, "{points:?}");
    }

    #[test]
    fn more_samples_reach_more_nines() {
        let few = histogram(&[1_000, 2_000]);
        let many = histogram(&(1..=100_000).collect::<Vec<u64>>());
        let line = |h| SpectrumLine {
            label: "x".into(),
            histogram: h,
            colour: colour(0),
            dashed: false,
        };
        assert_eq!(spectrum_chart("t", &[line(&few)]).unwrap().x.max, 3.0);
        let chart = spectrum_chart("t", &[line(&many)]).unwrap();
        assert_eq!(chart.x.max, 5.0);
        // 100,000 samples have ten beyond p99.99 (4 nines): shaded after.
        assert_eq!(chart.bands.len(), 1);
        assert!(
            (chart.bands[0].from - 4.0).abs() < 1e-9,
            "{:?}",
            chart.bands
        );
    }

    #[test]
    fn overlaid_spectra_share_one_plot() {
        let page = spectrum_svg(&[
            ("base".into(), histogram(&[1_000, 2_000, 40_000])),
            ("candidate".into(), histogram(&[1_500])),
            ("empty".into(), new_histogram()),
        ]);
        assert_eq!(page.matches(r#"<svg class="plot""#).count(), 1);
        assert!(page.contains("base") && page.contains("candidate"));
        assert!(!page.contains(">empty<"), "empty histograms are not drawn");
        assert!(!page.contains("NaN") && !page.contains("inf"));

        assert!(
            !page.contains("log scale"),
            "medians within 10x share a linear scale"
        );
        let apart = spectrum_svg(&[
            ("v3".into(), histogram(&[10_000, 12_000])),
            ("v4".into(), histogram(&[530_000, 560_000])),
        ]);
        assert!(apart.contains("latency (ms, log scale)"), "{apart}");

        let nothing = spectrum_svg(&[("empty".into(), new_histogram())]);
        assert!(nothing.starts_with(r#"<p class="note">"#), "{nothing}");
        assert!(spectrum_svg(&[]).starts_with(r#"<p class="note">"#));
    }
}
