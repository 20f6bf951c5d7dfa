//! `--every`: how often `opmon monitor` runs each operation.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use xmtp_opmon::client::OpKind;
use xmtp_opmon::load::{from_short_name, short_name, SHORT_NAMES};

/// The default period of each monitored operation, as XMTP's own monitor.
const DEFAULT_PERIOD: Duration = Duration::from_secs(20);
/// The shortest period accepted: a monitor is not a load generator.
const MIN_PERIOD: Duration = Duration::from_millis(100);

/// Operations and their periods, e.g. `identity=20s,group=1m`.
#[derive(Debug, Clone, PartialEq)]
pub struct Every(Vec<(OpKind, Duration)>);

impl Default for Every {
    /// `identity.create`, `group.create` and `group.add_members`, each
    /// every 20 s.
    fn default() -> Self {
        Self(
            [
                OpKind::IdentityCreate,
                OpKind::GroupCreate,
                OpKind::GroupAddMembers,
            ]
            .into_iter()
            .map(|kind| (kind, DEFAULT_PERIOD))
            .collect(),
        )
    }
}

impl Every {
    /// Each operation with its period.
    pub fn periods(&self) -> &[(OpKind, Duration)] {
        &self.0
    }

    /// Operations per second over the whole schedule.
    pub fn rate(&self) -> f64 {
        self.0
            .iter()
            .map(|(_, period)| 1.0 / period.as_secs_f64())
            .sum()
    }
}

impl fmt::Display for Every {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (kind, period)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            let period = humantime::format_duration(*period);
            write!(f, "{separator}{}={period}", short_name(*kind))?;
        }
        Ok(())
    }
}

impl FromStr for Every {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut periods: Vec<(OpKind, Duration)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || {
                let names: Vec<&str> = SHORT_NAMES.iter().map(|(name, _)| *name).collect();
                format!(
                    "`{part}` is not NAME=PERIOD with NAME one of {} and PERIOD like 20s or 1m",
                    names.join(", ")
                )
            };
            let (name, period) = part.split_once('=').ok_or_else(bad)?;
            let kind = from_short_name(name.trim()).ok_or_else(bad)?;
            let period = humantime::parse_duration(period.trim()).map_err(|_| bad())?;
            if period < MIN_PERIOD {
                return Err(format!(
                    "`{part}`: a period must be at least {}",
                    humantime::format_duration(MIN_PERIOD)
                ));
            }
            if periods.iter().any(|(k, _)| *k == kind) {
                return Err(format!("`{}` is scheduled twice", name.trim()));
            }
            periods.push((kind, period));
        }
        if periods.is_empty() {
            return Err(format!("`{spec}` schedules no operation"));
        }
        Ok(Self(periods))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_schedules() {
        let every: Every = "identity=20s, add-members=1m".parse().unwrap();
        assert_eq!(
            every.periods(),
            [
                (OpKind::IdentityCreate, Duration::from_secs(20)),
                (OpKind::GroupAddMembers, Duration::from_secs(60)),
            ]
        );
        assert_eq!(every.to_string(), "identity=20s,add-members=1m");
        assert_eq!(
            Every::default().to_string(),
            "identity=20s,group=20s,add-members=20s"
        );
        for bad in [
            "",
            "identity",
            "chat=1s",
            "identity=x",
            "identity=1ms",
            "group=1s,group=2s",
        ] {
            assert!(bad.parse::<Every>().is_err(), "{bad}");
        }
    }
}
