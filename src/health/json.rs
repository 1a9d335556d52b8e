//! The JSON shapes of a report (feature `serde`): `application/health+json` and Spring Boot's.

use super::check::{Detail, Details, Status};
use super::report::{CheckReport, HealthReport};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::time::SystemTime;

/// The JSON shape of a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum JsonFormat {
    /// The `application/health+json` draft (status `pass`, `warn`, `fail`; checks keyed by name,
    /// each an array of one object with `status`, `time`, `durationMs`, `output`, `details`).
    #[default]
    HealthJson,
    /// Spring Boot Actuator's `{"status":"UP","components":{"db":{"status":"UP","details":{..}}}}`
    /// (status `UP`, `DEGRADED`, `DOWN`), which many dashboards read.
    Spring,
}

impl JsonFormat {
    /// The media type of the shape: `application/health+json` or `application/json`.
    pub fn content_type(self) -> &'static str {
        match self {
            JsonFormat::HealthJson => "application/health+json",
            JsonFormat::Spring => "application/json",
        }
    }
}

/// How much of a report the JSON shows. Messages and details can name hosts, versions and
/// errors, so the default shows only the overall status (as Spring's `show-details: never`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Only the overall status.
    #[default]
    Status,
    /// Also each check's name and status (with `time` and `durationMs` in health+json).
    Checks,
    /// Also each check's message and details.
    Full,
}

/// A report seen through a [`JsonFormat`] and a [`Visibility`]; implements `Serialize`.
/// From [`HealthReport::json`].
#[derive(Clone, Copy, Debug)]
pub struct ReportJson<'a> {
    report: &'a HealthReport,
    format: JsonFormat,
    visibility: Visibility,
}

impl HealthReport {
    /// This report in `format`, showing what `visibility` allows, ready for any serde
    /// serializer.
    pub fn json(&self, format: JsonFormat, visibility: Visibility) -> ReportJson<'_> {
        ReportJson {
            report: self,
            format,
            visibility,
        }
    }

    /// This report as JSON bytes in `format`, showing what `visibility` allows.
    pub fn to_json(&self, format: JsonFormat, visibility: Visibility) -> Vec<u8> {
        // Every value here is a string, a number, a bool or a map with string keys: writing it
        // to a Vec cannot fail.
        serde_json::to_vec(&self.json(format, visibility)).unwrap_or_default()
    }
}

/// `health+json` with everything shown.
impl Serialize for HealthReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json(JsonFormat::HealthJson, Visibility::Full)
            .serialize(s)
    }
}

/// The lower-case name: `healthy`, `degraded`, `unhealthy`.
impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The plain JSON value: a bool, a number or a string.
impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Detail::Bool(v) => s.serialize_bool(*v),
            Detail::Int(v) => s.serialize_i64(*v),
            Detail::UInt(v) => s.serialize_u64(*v),
            Detail::Float(v) => s.serialize_f64(*v),
            Detail::Text(v) => s.serialize_str(v),
        }
    }
}

fn health_json_status(status: Status) -> &'static str {
    match status {
        Status::Healthy => "pass",
        Status::Degraded => "warn",
        Status::Unhealthy => "fail",
    }
}

fn spring_status(status: Status) -> &'static str {
    match status {
        Status::Healthy => "UP",
        Status::Degraded => "DEGRADED",
        Status::Unhealthy => "DOWN",
    }
}

impl Serialize for ReportJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (status, checks_key) = match self.format {
            JsonFormat::HealthJson => (health_json_status(self.report.status()), "checks"),
            JsonFormat::Spring => (spring_status(self.report.status()), "components"),
        };
        let show_checks = self.visibility != Visibility::Status;
        let mut map = s.serialize_map(Some(1 + usize::from(show_checks)))?;
        map.serialize_entry("status", status)?;
        if show_checks {
            map.serialize_entry(checks_key, &Checks(self))?;
        }
        map.end()
    }
}

/// The map of checks, keyed by name.
struct Checks<'a, 'r>(&'a ReportJson<'r>);

impl Serialize for Checks<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let json = self.0;
        let mut map = s.serialize_map(Some(json.report.checks().len()))?;
        for check in json.report.checks() {
            let entry = Entry { json, check };
            match json.format {
                JsonFormat::HealthJson => map.serialize_entry(check.name(), &[entry])?,
                JsonFormat::Spring => map.serialize_entry(check.name(), &entry)?,
            }
        }
        map.end()
    }
}

/// One check's object.
struct Entry<'a, 'r> {
    json: &'a ReportJson<'r>,
    check: &'a CheckReport,
}

impl Serialize for Entry<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let check = self.check;
        let full = self.json.visibility == Visibility::Full;
        let duration_ms = check.duration().as_secs_f64() * 1000.0;
        let mut map = s.serialize_map(None)?;
        match self.json.format {
            JsonFormat::HealthJson => {
                map.serialize_entry("status", health_json_status(check.status()))?;
                let time = rfc3339(check.completed_at(self.json.report));
                map.serialize_entry("time", &time)?;
                map.serialize_entry("durationMs", &duration_ms)?;
                if full {
                    if let Some(message) = check.message() {
                        map.serialize_entry("output", message)?;
                    }
                    if !check.details().is_empty() {
                        map.serialize_entry("details", check.details())?;
                    }
                }
            }
            JsonFormat::Spring => {
                map.serialize_entry("status", spring_status(check.status()))?;
                if full {
                    map.serialize_entry("details", &SpringDetails { check, duration_ms })?;
                }
            }
        }
        map.end()
    }
}

/// Spring's `details`: the check's own, plus `message` and `durationMs`.
struct SpringDetails<'a> {
    check: &'a CheckReport,
    duration_ms: f64,
}

impl Serialize for SpringDetails<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let details: &Details = self.check.details();
        let mut map = s.serialize_map(None)?;
        for (key, value) in details {
            if key != "message" && key != "durationMs" {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(message) = self.check.message() {
            map.serialize_entry("message", message)?;
        }
        map.serialize_entry("durationMs", &self.duration_ms)?;
        map.end()
    }
}

/// RFC 3339 in UTC with milliseconds: `2026-11-26T06:30:00.123Z` (formatted by `humantime`).
pub(super) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
        let end = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(rfc3339(end), "2026-12-31T23:59:59.000Z");
    }
}
