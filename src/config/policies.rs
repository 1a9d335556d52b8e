//! A named set of policies, read from TOML or JSON and validated as a whole.

use super::LoadError;
use crate::ConfigError;
use std::collections::BTreeMap;
use std::path::Path;
#[cfg(feature = "timeout")]
use std::time::Duration;

/// Named settings for every pattern, read from a file with one table per pattern and one entry
/// per instance (see the [module docs](super) for a whole file).
///
/// Reading validates every entry as its builder would, so an error names the file, the line
/// where the format tells it and the key of the setting at fault; a file that loads builds.
/// Unknown patterns and unknown settings are errors (a typo never passes silently).
///
/// ```
/// use bulwark::config::Policies;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policies = Policies::from_json(r#"{
///     "bulkhead": { "inventory": { "max_concurrent": 10, "max_wait": "50ms" } },
///     "timeout": { "inventory": "2s" }
/// }"#)?;
/// let bulkhead = policies.bulkhead("inventory")?.build()?;
/// assert_eq!(bulkhead.metrics().max_concurrent, 10);
/// assert_eq!(policies.timeout("inventory")?.duration().as_secs(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Policies {
    /// `[circuit_breaker.<name>]`
    #[cfg(feature = "circuit-breaker")]
    pub circuit_breaker: BTreeMap<String, crate::circuit_breaker::Settings>,
    /// `[retry.<name>]`
    #[cfg(feature = "retry")]
    pub retry: BTreeMap<String, crate::retry::Settings>,
    /// `[retry_budget.<name>]`: budgets to share between retries.
    #[cfg(feature = "retry")]
    pub retry_budget: BTreeMap<String, crate::retry::BudgetSettings>,
    /// `[bulkhead.<name>]`
    #[cfg(feature = "bulkhead")]
    pub bulkhead: BTreeMap<String, crate::bulkhead::Settings>,
    /// `[rate_limit.<name>]`
    #[cfg(feature = "rate-limit")]
    pub rate_limit: BTreeMap<String, crate::rate_limit::Settings>,
    /// `[timeout]`, one duration per name: `payments = "2s"`.
    #[cfg(feature = "timeout")]
    #[serde(with = "durations")]
    pub timeout: BTreeMap<String, Duration>,
}

impl Policies {
    /// Reads a file: TOML if its name ends in `.toml`, JSON if in `.json`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::new("", format!("cannot read the file: {e}")).in_file(path))?;
        let parsed = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => Self::from_toml(&text),
            Some("json") => Self::from_json(&text),
            _ => Err(LoadError::new(
                "",
                "unknown format: the file name must end in .toml or .json",
            )),
        };
        parsed.map_err(|e| e.in_file(path))
    }

    /// Reads TOML text.
    pub fn from_toml(text: &str) -> Result<Self, LoadError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, &e, ""))?;
        let policies: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            toml_error(text, e.inner(), &key)
        })?;
        policies.validate()?;
        Ok(policies)
    }

    /// Reads JSON text.
    pub fn from_json(text: &str) -> Result<Self, LoadError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let policies: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = (inner.line() > 0).then_some(inner.line());
            LoadError::new(known(&key), strip_position(&inner.to_string())).at_line(line)
        })?;
        policies.validate()?;
        Ok(policies)
    }

    /// Checks every entry as its builder would.
    fn validate(&self) -> Result<(), LoadError> {
        #[cfg(feature = "circuit-breaker")]
        for (name, s) in &self.circuit_breaker {
            s.config().map_err(|e| at("circuit_breaker", name, &e))?;
        }
        #[cfg(feature = "retry")]
        for (name, s) in &self.retry {
            crate::retry::Retry::builder()
                .settings(s)
                .build()
                .map_err(|e| at("retry", name, &e))?;
        }
        #[cfg(feature = "retry")]
        for (name, s) in &self.retry_budget {
            crate::retry::RetryBudget::builder()
                .settings(s)
                .build()
                .map_err(|e| at("retry_budget", name, &e))?;
        }
        #[cfg(feature = "bulkhead")]
        for (name, s) in &self.bulkhead {
            s.validate().map_err(|e| at("bulkhead", name, &e))?;
        }
        #[cfg(feature = "rate-limit")]
        for (name, s) in &self.rate_limit {
            crate::rate_limit::RateLimiter::builder()
                .settings(s)
                .build()
                .map_err(|e| at("rate_limit", name, &e))?;
        }
        Ok(())
    }
}

/// A policy that is not in the file.
pub(super) fn missing(section: &str, name: &str) -> LoadError {
    LoadError::new(format!("{section}.{name}"), "no such policy")
}

/// A builder's error, placed at its key. A retry's budget errors name the budget's field.
fn at(section: &str, name: &str, e: &ConfigError) -> LoadError {
    let field = match (section, e.pattern()) {
        ("retry", "retry_budget") => format!("budget.{}", e.field()),
        _ => e.field().to_owned(),
    };
    LoadError::new(format!("{section}.{name}.{field}"), e.reason())
}

fn toml_error(text: &str, e: &toml::de::Error, key: &str) -> LoadError {
    // Counted in bytes: a span that ended inside a character could not panic here.
    let line = e.span().map(|span| {
        let before = &text.as_bytes()[..span.start.min(text.len())];
        before.iter().filter(|&&b| b == b'\n').count() + 1
    });
    LoadError::new(known(key), e.message().trim_end()).at_line(line)
}

/// `serde_path_to_error` writes `?` for an unknown path and `.` for the root.
fn known(key: &str) -> &str {
    if key == "?" || key == "." { "" } else { key }
}

/// serde_json appends " at line L column C", which the error says on its own.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(feature = "timeout")]
mod durations {
    //! `[timeout]`: a map from names to human durations.
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[derive(Deserialize)]
    struct Human(#[serde(with = "crate::config::duration")] Duration);

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        let raw = BTreeMap::<String, Human>::deserialize(d)?;
        Ok(raw.into_iter().map(|(k, Human(v))| (k, v)).collect())
    }

    pub(super) fn serialize<S: Serializer>(
        map: &BTreeMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            out.serialize_entry(k, &humantime::format_duration(*v).to_string())?;
        }
        out.end()
    }
}
