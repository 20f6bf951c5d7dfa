//! The stretch of real-user time to compare against: `--range 1h` back
//! from now, or `--start`/`--end` in RFC 3339.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The default `--range`.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(3600);

/// A closed stretch of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its start.
    pub start: SystemTime,
    /// Its end.
    pub end: SystemTime,
}

/// Flags that do not make a window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WindowError(String);

impl Window {
    /// The window the flags describe: `--end` (default now) back by
    /// `--range` (default 1h), or forward from `--start`, or exactly
    /// `--start`..`--end`.
    pub fn from_flags(
        range: Option<&str>,
        start: Option<&str>,
        end: Option<&str>,
        now: SystemTime,
    ) -> Result<Self, WindowError> {
        let range = range
            .map(|text| {
                humantime::parse_duration(text.trim())
                    .ok()
                    .filter(|d| *d >= Duration::from_secs(1))
                    .ok_or_else(|| {
                        WindowError(format!(
                            "--range `{text}` is not a duration of a second or more, like 30m or 1h"
                        ))
                    })
            })
            .transpose()?;
        let time = |flag: &str, text: &str| {
            humantime::parse_rfc3339_weak(text.trim()).map_err(|_| {
                WindowError(format!(
                    "--{flag} `{text}` is not an RFC 3339 time like 2026-12-02T16:00:00Z"
                ))
            })
        };
        let (start, end) = match (start.map(|s| time("start", s)).transpose()?, end) {
            (Some(start), Some(end)) => {
                if range.is_some() {
                    return Err(WindowError(
                        "give --range or both --start and --end, not all three".into(),
                    ));
                }
                (start, time("end", end)?)
            }
            (Some(start), None) => (start, start + range.unwrap_or(DEFAULT_RANGE)),
            (None, end) => {
                let end = end.map(|e| time("end", e)).transpose()?.unwrap_or(now);
                let back = range.unwrap_or(DEFAULT_RANGE);
                let start = end
                    .checked_sub(back)
                    .ok_or_else(|| WindowError("--range reaches back before 1970".to_owned()))?;
                (start, end)
            }
        };
        if end <= start {
            return Err(WindowError("--end must be after --start".into()));
        }
        Ok(Window { start, end })
    }

    /// Its length.
    pub fn length(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// Seconds since the epoch, as Prometheus' API takes times.
    pub fn unix(time: SystemTime) -> String {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        format!("{}.{:03}", since.as_secs(), since.subsec_millis())
    }

    /// RFC 3339, for reports.
    pub fn rfc3339(time: SystemTime) -> String {
        humantime::format_rfc3339_millis(time).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn flags_make_windows() {
        let now = at("2026-12-02T12:00:00Z");
        let w = Window::from_flags(None, None, None, now).unwrap();
        assert_eq!((w.start, w.end), (at("2026-12-02T11:00:00Z"), now));
        let w = Window::from_flags(Some("5m"), None, Some("2026-12-02T10:00:00Z"), now).unwrap();
        assert_eq!(w.start, at("2026-12-02T09:55:00Z"));
        let w = Window::from_flags(Some("2h"), Some("2026-12-02T08:00:00Z"), None, now).unwrap();
        assert_eq!(w.end, at("2026-12-02T10:00:00Z"));
        let w = Window::from_flags(
            None,
            Some("2026-12-02T08:00:00Z"),
            Some("2026-12-02T08:00:30.5Z"),
            now,
        )
        .unwrap();
        assert_eq!(w.length(), Duration::from_millis(30_500));
        assert_eq!(Window::unix(w.end), "1796198430.500");
    }

    #[test]
    fn bad_flags_say_why() {
        let now = at("2026-12-02T12:00:00Z");
        for (range, start, end) in [
            (Some("soon"), None, None),
            (Some("0s"), None, None),
            (None, Some("yesterday"), None),
            (None, None, Some("2026-13-02T00:00:00Z")),
            (
                None,
                Some("2026-12-02T10:00:00Z"),
                Some("2026-12-02T09:00:00Z"),
            ),
            (
                Some("1h"),
                Some("2026-12-02T08:00:00Z"),
                Some("2026-12-02T09:00:00Z"),
            ),
        ] {
            let error = Window::from_flags(range, start, end, now).unwrap_err();
            assert!(!error.to_string().contains('\n'), "{error}");
        }
    }
}
