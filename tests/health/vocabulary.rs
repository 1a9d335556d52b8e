//! The vocabulary of checks: statuses (their order, names and whether a probe passes), tags and
//! detail values as users and the endpoints see them.
#![cfg(feature = "health")]

use bulwark::health::{Detail, Status, Tag};

#[test]
fn statuses_are_named_in_lower_case_and_ordered_from_best_to_worst() {
    use Status::{Degraded as D, Healthy as H, Unhealthy as U};
    let names: Vec<(&str, String)> = [H, D, U]
        .iter()
        .map(|s| (s.as_str(), s.to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("healthy", "healthy".to_owned()),
            ("degraded", "degraded".to_owned()),
            ("unhealthy", "unhealthy".to_owned()),
        ]
    );
    for (a, b, worst) in [
        (H, H, H),
        (H, D, D),
        (D, H, D),
        (D, U, U),
        (U, H, U),
        (U, U, U),
    ] {
        assert_eq!(a.worst(b), worst, "{a} and {b}");
    }
}

#[test]
fn a_probe_passes_unless_unhealthy() {
    assert!(Status::Healthy.is_up());
    assert!(Status::Degraded.is_up());
    assert!(!Status::Unhealthy.is_up());
}

#[test]
fn a_custom_tag_is_its_name() {
    assert_eq!(Tag::custom("queue"), Tag::Custom("queue".into()));
    assert_ne!(Tag::custom("queue"), Tag::custom("db"));
}

#[test]
fn details_convert_from_plain_values_and_print_as_them() {
    let cases = [
        (Detail::from(true), Detail::Bool(true), "true"),
        (Detail::from(-3i8), Detail::Int(-3), "-3"),
        (Detail::from(-70_000i32), Detail::Int(-70_000), "-70000"),
        (Detail::from(7u16), Detail::UInt(7), "7"),
        (Detail::from(12usize), Detail::UInt(12), "12"),
        (
            Detail::from(u64::MAX),
            Detail::UInt(u64::MAX),
            "18446744073709551615",
        ),
        (Detail::from(0.5f32), Detail::Float(0.5), "0.5"),
        (
            Detail::from("eu-west"),
            Detail::Text("eu-west".into()),
            "eu-west",
        ),
        (
            Detail::from(String::from("primary")),
            Detail::Text("primary".into()),
            "primary",
        ),
    ];
    for (converted, expected, text) in cases {
        assert_eq!(converted, expected);
        assert_eq!(converted.to_string(), text);
    }
}
