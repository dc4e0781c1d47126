//! Duration flags: one convention for all of them, humantime's `5s`, `300ms`, `2m`, `1h 30m`
//! (what systemd and Kubernetes users type), each with a range, so that no value can panic
//! later (`Duration::from_secs_f64(inf)` did) or be silently changed (`nan` and negative
//! values became 0).
//!
//! A bare number is still read as seconds where the flag took float seconds before
//! (`--lock-timeout 0.3`), so existing scripts keep working. `--debounce` took milliseconds,
//! so a bare number there is refused with a hint instead of silently meaning 1000 times more.

use std::time::Duration;

/// How a bare number (no unit) is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// As seconds, possibly fractional (`0.3`).
    Seconds,
    /// Refused: the flag used to take another unit.
    Refused {
        /// The unit the flag used to take, for the hint.
        old_unit: &'static str,
    },
}

/// The range and bare-number rule of one duration flag.
#[derive(Debug, Clone, Copy)]
pub struct DurationRule {
    /// Smallest accepted value.
    pub min: Duration,
    /// Largest accepted value; bounded so that `Instant::now() + value` cannot overflow.
    pub max: Duration,
    /// How a number without a unit is read.
    pub bare: Bare,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// `--lock-timeout` (apply, run, destroy, watch): up to a day.
pub const LOCK_TIMEOUT: DurationRule = DurationRule {
    min: Duration::ZERO,
    max: Duration::from_secs(DAY),
    bare: Bare::Seconds,
};

/// `run --duration`: up to a year.
pub const RUN_DURATION: DurationRule = DurationRule {
    min: Duration::ZERO,
    max: Duration::from_secs(365 * DAY),
    bare: Bare::Seconds,
};

/// `run --drain`: up to a minute (a receiver waits that long after the last stream ended).
pub const DRAIN: DurationRule = DurationRule {
    min: Duration::ZERO,
    max: Duration::from_secs(MINUTE),
    bare: Bare::Seconds,
};

/// `watch --poll-interval`: 10 ms (a tighter loop only burns CPU reading procfs) to a day.
pub const POLL_INTERVAL: DurationRule = DurationRule {
    min: Duration::from_millis(10),
    max: Duration::from_secs(DAY),
    bare: Bare::Seconds,
};

/// `watch --debounce`: up to an hour. It used to be a number of milliseconds.
pub const DEBOUNCE: DurationRule = DurationRule {
    min: Duration::ZERO,
    max: Duration::from_secs(HOUR),
    bare: Bare::Refused { old_unit: "ms" },
};

impl DurationRule {
    /// Parses `text` by this rule. The error is the sentence clap prints after
    /// "invalid value 'TEXT' for '--flag <DURATION>':".
    pub fn parse(&self, text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let value = if let Ok(number) = text.parse::<f64>() {
            self.bare_number(text, number)?
        } else {
            humantime::parse_duration(text)
                .map_err(|e| format!("{e}; expected a duration such as 5s, 300ms, 2m or 1h 30m"))?
        };
        if value < self.min {
            return Err(format!(
                "{} is below the minimum, {}",
                humantime::format_duration(value),
                humantime::format_duration(self.min)
            ));
        }
        if value > self.max {
            return Err(format!(
                "{text} is above the maximum, {}",
                humantime::format_duration(self.max)
            ));
        }
        Ok(value)
    }

    fn bare_number(&self, text: &str, number: f64) -> Result<Duration, String> {
        if let Bare::Refused { old_unit } = self.bare {
            return Err(format!(
                "a duration needs a unit, such as 300ms or 2s (a bare number used to be {old_unit} \
                 here: write {text}{old_unit} for that)"
            ));
        }
        if !number.is_finite() {
            return Err(
                "expected a duration such as 5s, 300ms or 2m, or a number of seconds".into(),
            );
        }
        if number < 0.0 {
            return Err("a duration cannot be negative".into());
        }
        if number > self.max.as_secs_f64() {
            return Err(format!(
                "{text} seconds is above the maximum, {}",
                humantime::format_duration(self.max)
            ));
        }
        // In range and finite, so this cannot panic.
        Ok(Duration::from_secs_f64(number))
    }

    /// The parser clap calls for a flag with this rule.
    pub fn parser(self) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync {
        move |text| self.parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humantime_and_bare_seconds_are_accepted() {
        assert_eq!(LOCK_TIMEOUT.parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(LOCK_TIMEOUT.parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(LOCK_TIMEOUT.parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(LOCK_TIMEOUT.parse("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(LOCK_TIMEOUT.parse("0.3"), Ok(Duration::from_millis(300)));
        assert_eq!(LOCK_TIMEOUT.parse("0"), Ok(Duration::ZERO));
        assert_eq!(DEBOUNCE.parse("300ms"), Ok(Duration::from_millis(300)));
    }

    #[test]
    fn values_that_used_to_panic_or_become_zero_are_refused() {
        for bad in [
            "inf", "-inf", "1e300", "nan", "NaN", "-1", "-0.5", "1e20", "2d",
        ] {
            let err = LOCK_TIMEOUT.parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(LOCK_TIMEOUT
            .parse("1e300")
            .unwrap_err()
            .contains("maximum, 1day"));
        assert!(LOCK_TIMEOUT.parse("-1").unwrap_err().contains("negative"));
        assert!(POLL_INTERVAL
            .parse("1ms")
            .unwrap_err()
            .contains("minimum, 10ms"));
        assert!(RUN_DURATION.parse("1000y").unwrap_err().contains("maximum"));
        assert!(LOCK_TIMEOUT
            .parse("soon")
            .unwrap_err()
            .contains("such as 5s"));
    }

    #[test]
    fn a_bare_debounce_is_refused_with_the_old_unit_named() {
        let err = DEBOUNCE.parse("300").unwrap_err();
        assert!(err.contains("write 300ms"), "{err}");
    }
}
