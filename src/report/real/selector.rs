//! `--selector`: which of Prometheus' series are the real users.
//!
//! A PromQL series selector, `{job="my-app",xmtp_api="v4"}`, optionally
//! led by a metric name (`my_histogram{job="my-app"}`) for an app whose
//! recorder named the histogram differently. Its label matchers are added
//! to every query, next to `xmtp_traffic="real"` (from `--traffic`); its
//! metric name, if any, replaces the histogram's. It is parsed here rather
//! than pasted into the query, so a typo is one clear sentence before any
//! request, not a PromQL parse error from the server.

use std::fmt;

/// A label matcher: `name op "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The label.
    pub label: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: &'static str,
    /// The value or regular expression, unescaped.
    pub value: String,
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.label, self.op, quote(&self.value))
    }
}

/// A parsed `--selector`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// The histogram's base name, if the selector names one.
    pub metric: Option<String>,
    /// The label matchers.
    pub matchers: Vec<Matcher>,
}

/// A `--selector` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--selector `{text}` {reason}")]
pub struct SelectorError {
    text: String,
    reason: String,
}

const OPS: [&str; 4] = ["=~", "!~", "!=", "="];

impl Selector {
    /// Parses `text`; `reserved` labels are refused (they have flags of
    /// their own).
    pub fn parse(text: &str, reserved: &[&str]) -> Result<Self, SelectorError> {
        let fail = |reason: String| SelectorError {
            text: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        let (name, rest) = match trimmed.find('{') {
            Some(at) => (trimmed[..at].trim(), &trimmed[at..]),
            None => (trimmed, ""),
        };
        let mut selector = Selector::default();
        if !name.is_empty() {
            if !is_name(name, true) {
                return Err(fail(format!("starts with `{name}`, not a metric name")));
            }
            selector.metric = Some(name.to_owned());
        }
        if rest.is_empty() {
            if name.is_empty() {
                return Err(fail(
                    "is empty; write label matchers like {job=\"my-app\"}".into(),
                ));
            }
            return Ok(selector);
        }
        let body = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| fail("must end with `}`".into()))?;
        let mut chars = body.trim();
        while !chars.is_empty() {
            let label_end = chars
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(chars.len());
            let label = &chars[..label_end];
            if !is_name(label, false) {
                return Err(fail(format!("has `{chars}` where a label name should be")));
            }
            let after = chars[label_end..].trim_start();
            let op = OPS
                .into_iter()
                .find(|op| after.starts_with(op))
                .ok_or_else(|| fail(format!("has no =, !=, =~ or !~ after `{label}`")))?;
            let (value, remaining) = unquote(after[op.len()..].trim_start())
                .ok_or_else(|| fail(format!("needs a quoted value for `{label}`")))?;
            if reserved.contains(&label) {
                return Err(fail(format!("sets {label}, which has a flag of its own")));
            }
            if label == "__name__" {
                if op != "=" || selector.metric.is_some() {
                    return Err(fail(
                        "may name one metric, exactly (`__name__=\"…\"`)".into(),
                    ));
                }
                selector.metric = Some(value);
            } else {
                selector.matchers.push(Matcher {
                    label: label.to_owned(),
                    op,
                    value,
                });
            }
            let remaining = remaining.trim_start();
            chars = match remaining.strip_prefix(',') {
                Some(next) => next.trim_start(),
                None if remaining.is_empty() => remaining,
                None => {
                    return Err(fail(format!(
                        "has `{remaining}` where `,` or `}}` should be"
                    )))
                }
            };
        }
        Ok(selector)
    }
}

/// A metric name (with colons) or a label name.
fn is_name(text: &str, metric: bool) -> bool {
    let mut chars = text.chars();
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':');
    matches!(chars.next(), Some(c) if ok(c) && !c.is_ascii_digit()) && chars.all(ok)
}

/// The quoted string at the start of `text` (double or single quotes,
/// backslash escapes) and what follows it.
fn unquote(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let mut value = String::new();
    let mut escaped = false;
    for (at, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => {
                value.push(match c {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                escaped = false;
            }
            '\\' => escaped = true,
            c if c == quote => return Some((value, &text[at + 1..])),
            c => value.push(c),
        }
    }
    None
}

/// `value` as a PromQL double-quoted string.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_into_matchers() {
        let s = Selector::parse(r#"{job="x", xmtp_api=~'v4|v3',env!="dev\"q"}"#, &[]).unwrap();
        assert_eq!(s.metric, None);
        let text: Vec<String> = s.matchers.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [r#"job="x""#, r#"xmtp_api=~"v4|v3""#, r#"env!="dev\"q""#]
        );
        let named = Selector::parse("my_hist:seconds{}", &[]).unwrap();
        assert_eq!(named.metric.as_deref(), Some("my_hist:seconds"));
        let by_name = Selector::parse(r#"{__name__="g",a="b",}"#, &[]).unwrap();
        assert_eq!(by_name.metric.as_deref(), Some("g"));
        assert_eq!(by_name.matchers.len(), 1);
    }

    #[test]
    fn bad_selectors_say_why() {
        for bad in [
            "",
            "{job=x}",
            "{job=\"x\"",
            "{job~\"x\"}",
            "{9a=\"x\"}",
            "{a=\"x\" b=\"y\"}",
            "1metric",
            "{__name__=~\"x\"}",
            "{xmtp_traffic=\"real\"}",
        ] {
            let error = Selector::parse(bad, &["xmtp_traffic"]).unwrap_err();
            let text = error.to_string();
            assert!(
                text.starts_with("--selector `") && !text.contains('\n'),
                "{text}"
            );
        }
    }
}
