//! Disruption controls, as Karpenter's NodePool disruption budgets have them: how many instances with tasks
//! may drain voluntarily at once ([`Budget`]), and windows in which voluntary disruption is off ([`Windows`]).
//!
//! Both must fit an ECS tag value (letters, digits, spaces and `_ . : / = + - @`), so:
//! - a budget is a count (`3`) or a share of the ACTIVE instances (`10%`, or `10 percent` in a tag);
//! - a window is a five-field cron schedule (minute, hour, day of month, month, day of week; UTC) and a
//!   duration, `0 9 * * mon-fri 8h`; `any` stands for `*`, which tags cannot hold
//!   (`0 9 any any mon-fri 8h`); several windows are joined by ` + `.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Serialize, Serializer};

/// How many instances with tasks may drain voluntarily at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Count(u32),
    /// A share of the ACTIVE instances, rounded up (so any share above 0 allows at least one).
    Percent(f64),
}

/// The default budget: 10 % of the ACTIVE instances, at least one.
pub const DEFAULT_BUDGET: Budget = Budget::Percent(10.0);

impl Budget {
    /// How many of `active` instances may drain at once.
    pub fn allowance(self, active: u32) -> u32 {
        match self {
            Budget::Count(n) => n,
            Budget::Percent(p) => (f64::from(active) * p / 100.0).ceil().clamp(0.0, f64::from(u32::MAX)) as u32,
        }
    }
}

impl FromStr for Budget {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        let share = raw.strip_suffix('%').or_else(|| raw.strip_suffix("percent")).map(str::trim);
        match share {
            Some(number) => match number.parse::<f64>() {
                Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(Budget::Percent(p)),
                _ => Err(format!("{raw:?} is not a share of 0-100 percent")),
            },
            None => raw.parse::<u32>().map(Budget::Count).map_err(|_| {
                format!("{raw:?} is neither a number of instances nor a percentage (\"10%\", \"10 percent\")")
            }),
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Count(n) => write!(f, "{n}"),
            Budget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Budget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One window in which voluntary disruption is off: from each time the schedule fires, for `duration`.
#[derive(Clone)]
pub struct Window {
    raw: String,
    schedule: Cron,
    duration: Duration,
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Window({:?})", self.raw)
    }
}

impl PartialEq for Window {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Window {
    /// Whether `now` falls in this window: the schedule fired at most `duration` ago.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        self.schedule.find_previous_occurrence(&now, true).is_ok_and(|start| now < start + self.duration)
    }
}

impl FromStr for Window {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let fields: Vec<&str> = raw.split_whitespace().collect();
        let [cron @ .., duration] = fields.as_slice() else {
            return Err("an empty window".into());
        };
        if cron.len() != 5 {
            return Err(format!(
                "{raw:?}: expected a five-field cron schedule and a duration, as \"0 9 * * mon-fri 8h\""
            ));
        }
        let cron: Vec<&str> = cron.iter().map(|f| if f.eq_ignore_ascii_case("any") { "*" } else { f }).collect();
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let schedule = parser.parse(&cron.join(" ")).map_err(|e| format!("{raw:?}: the schedule: {e}"))?;
        let duration = humantime::parse_duration(duration)
            .ok()
            .and_then(|d| Duration::from_std(d).ok())
            .filter(|d| *d > Duration::zero() && *d <= Duration::days(7))
            .ok_or_else(|| format!("{raw:?}: {duration:?} is not a duration up to 7 days (\"8h\", \"90m\")"))?;
        Ok(Window { raw: raw.split_whitespace().collect::<Vec<_>>().join(" "), schedule, duration })
    }
}

/// The windows of a cluster, joined by ` + `.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows(pub Vec<Window>);

impl Windows {
    /// The window `now` falls in, if any.
    pub fn active(&self, now: DateTime<Utc>) -> Option<&str> {
        self.0.iter().find(|w| w.contains(now)).map(|w| w.raw.as_str())
    }
}

impl FromStr for Windows {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let parts = raw.split('+').map(str::trim).filter(|p| !p.is_empty());
        parts.map(Window::from_str).collect::<Result<Vec<_>, _>>().map(Windows)
    }
}

impl Serialize for Windows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let joined: Vec<&str> = self.0.iter().map(|w| w.raw.as_str()).collect();
        serializer.collect_str(&joined.join(" + "))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        // December 2026: the 7th is a Monday.
        Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0).single().unwrap()
    }

    #[test]
    fn a_budget_is_a_count_or_a_share_rounded_up() {
        assert_eq!("3".parse::<Budget>(), Ok(Budget::Count(3)));
        assert_eq!("10%".parse::<Budget>(), Ok(Budget::Percent(10.0)));
        assert_eq!("25 percent".parse::<Budget>(), Ok(Budget::Percent(25.0)));
        assert_eq!(DEFAULT_BUDGET.allowance(20), 2);
        assert_eq!(DEFAULT_BUDGET.allowance(3), 1, "at least one");
        assert_eq!(DEFAULT_BUDGET.allowance(0), 0);
        assert_eq!(Budget::Percent(0.0).allowance(50), 0);
        assert_eq!(Budget::Count(0).allowance(50), 0);
        assert!("ten".parse::<Budget>().unwrap_err().contains("neither a number"));
        assert!("150%".parse::<Budget>().unwrap_err().contains("0-100"));
        assert!("-1".parse::<Budget>().is_err());
    }

    #[test]
    fn a_window_is_open_from_each_firing_for_its_duration() {
        let business: Windows = "0 9 * * mon-fri 8h".parse().unwrap();
        assert_eq!(business.active(at(7, 9, 0)), Some("0 9 * * mon-fri 8h"), "Monday 09:00");
        assert!(business.active(at(7, 16, 59)).is_some());
        assert!(business.active(at(7, 17, 0)).is_none(), "8 hours later it closes");
        assert!(business.active(at(7, 8, 59)).is_none());
        assert!(business.active(at(12, 10, 0)).is_none(), "Saturday");
        // Tag spelling: any for *; two windows joined by +.
        let tagged: Windows = "0 9 any any mon-fri 8h + 0 0 any any sat 24h".parse().unwrap();
        assert!(tagged.active(at(12, 10, 0)).is_some(), "all Saturday");
        assert!(tagged.active(at(13, 10, 0)).is_none(), "not Sunday");
        // A window running over midnight.
        let night: Windows = "30 22 * * * 3h".parse().unwrap();
        assert!(night.active(at(8, 1, 0)).is_some());
        assert!(night.active(at(8, 1, 30)).is_none());
    }

    #[test]
    fn malformed_windows_say_what_is_wrong() {
        let error = |raw: &str| raw.parse::<Windows>().unwrap_err();
        assert!(error("0 9 * * 8h").contains("five-field"), "{}", error("0 9 * * 8h"));
        assert!(error("0 9 * * mon-fri soon").contains("not a duration"));
        assert!(error("0 9 * * mon-fri 30d").contains("up to 7 days"));
        assert!(error("0 25 * * * 1h").contains("the schedule"), "{}", error("0 25 * * * 1h"));
        assert!(error("0 9 * * * * 1h").contains("five-field"));
        assert_eq!("".parse::<Windows>(), Ok(Windows::default()));
    }
}
