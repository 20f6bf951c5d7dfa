//! A run as one self-contained HTML page.
//!
//! The page is meant to be read by a person who wants to know, at a
//! glance, whether a run was healthy: did it finish, how slow was it, how
//! often did it fail and why, did it keep up its pace, and was the load
//! generator itself the bottleneck. It answers with a header, a table, and
//! a handful of plots.
//!
//! Everything is in the one file. The plots are inline SVG drawn here in
//! Rust, the style sheet is inline, and nothing refers to the network:
//! no scripts, fonts or images to fetch, so the page opens the same way
//! offline, from an archive, or as a CI artifact years later.
//!
//! The pieces:
//!
//! - [`svg`]: generic charts (line charts with linear or percentile axes,
//!   horizontal bar charts, legends), knowing nothing about runs, so a
//!   comparison page can draw with them too;
//! - [`spectrum_svg`]: latency by percentile, HdrHistogram style, for one
//!   or several histograms overlaid (a base and a candidate, say);
//! - [`run_page`]: the page for one [`RunResult`](super::RunResult);
//! - [`comparison_page`]: a comparison's verdicts with base and candidate
//!   spectra overlaid.
//!
//! All text that reaches the page goes through [`escape`]: tags, faults
//! and error classes come from the command line or the network, and must
//! show up as text, never as markup.

mod comparison;
mod page;
mod plots;
mod spectrum;
mod stages;
pub mod svg;

pub use comparison::comparison_page;
pub(crate) use page::head;
pub use page::run_page;
pub use spectrum::{spectrum_chart, spectrum_svg, SpectrumLine};

/// `text` made safe to place in HTML or SVG, as element content or inside
/// a quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The operations of a comparison's rows, in order, each once.
pub(crate) fn operations<'a>(of_rows: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut operations: Vec<&str> = of_rows.collect();
    operations.dedup();
    operations
}

/// The "Figures" heading and table as HTML: a header, then each row's cells; a row
/// the data cannot judge is greyed (not hidden), and a bad verdict (its
/// last cell) is marked.
pub(crate) fn figures_table(
    header: &[&str],
    rows: impl Iterator<Item = (Vec<String>, Judged)>,
) -> String {
    use std::fmt::Write as _;
    let mut html = String::from("<h2>Figures</h2>\n<table><tr>");
    for title in header {
        let _ = write!(html, "<th>{title}</th>");
    }
    html.push_str("</tr>\n");
    for (cells, judged) in rows {
        html.push_str(if judged == Judged::Not {
            "<tr class=\"unjudged\">"
        } else {
            "<tr>"
        });
        for (i, cell) in cells.iter().enumerate() {
            let bad = i == cells.len() - 1 && judged == Judged::Bad;
            let class = if bad { " class=\"bad\"" } else { "" };
            let _ = write!(html, "<td{class}>{}</td>", escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    html
}

/// How a row of [`figures_table`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Not judged: greyed.
    Not,
    /// Judged.
    Yes,
    /// Judged, and bad.
    Bad,
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escaping_turns_markup_into_text() {
        assert_eq!(escape("plain text"), "plain text");
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        // Escaping twice shows the first escape literally, as it should.
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("café · 5%"), "café · 5%");
        assert_eq!(escape(""), "");
    }
}
