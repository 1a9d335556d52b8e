//! The standalone door: `run` and `apply` over the flat `bulwark::Error`.

use crate::{REJECTIONS, rejection};
use bulwark::Error;
use bulwark::classify::Verdict;
use bulwark::fallback::{Event, Fallback, Reason};
use std::io;
use std::sync::{Arc, Mutex};

type Out = Result<&'static str, Error<io::Error>>;

#[tokio::test(start_paused = true)]
async fn each_rejection_is_replaced_when_chosen_and_passes_through_when_not() {
    for chosen in REJECTIONS {
        let fallback = Fallback::builder(|r: Reason| r.as_str())
            .on(chosen)
            .build()
            .unwrap();
        for kind in REJECTIONS {
            let err = rejection(kind).await;
            let out: Out = fallback.run(|| async move { Err(err) }).await;
            if kind == chosen {
                assert_eq!(out.unwrap(), kind.as_str());
            } else {
                let err = out.unwrap_err();
                assert!(
                    err.is_rejection(),
                    "{kind:?} passed through under {chosen:?}: {err}"
                );
            }
        }
        let m = fallback.metrics();
        assert_eq!(m.used_for(chosen), 1);
        assert_eq!(m.used_total(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn by_default_the_four_rejections_are_replaced_and_the_calls_own_errors_are_not() {
    let fallback = Fallback::builder(|_: Reason| "fallback").build().unwrap();
    for kind in REJECTIONS {
        let out: Out = fallback.apply(Err(rejection(kind).await));
        assert_eq!(out.unwrap(), "fallback", "{kind:?}");
    }
    let own: Out = fallback.apply(Err(Error::Inner(io::Error::other("down"))));
    assert_eq!(own.unwrap_err().to_string(), "down");
    let ok: Out = fallback.apply(Ok("live"));
    assert_eq!(ok.unwrap(), "live");
    assert_eq!(fallback.metrics().used_total(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_calls_own_failures_are_replaced_as_the_classifier_says() {
    // Replace "unavailable" errors and "busy" answers; keep "not found" errors.
    let fallback = Fallback::builder(|_: Reason| "fallback")
        .on(Reason::Timeout)
        .on_failure(|r: &Result<&'static str, io::Error>| match r {
            Ok("busy") => Verdict::Failure,
            Ok(_) => Verdict::Success,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Verdict::Ignored,
            Err(_) => Verdict::Failure,
        })
        .build()
        .unwrap();
    let apply = |out: Out| fallback.apply(out);
    assert_eq!(
        apply(Err(Error::Inner(io::Error::other("unavailable")))).unwrap(),
        "fallback"
    );
    assert_eq!(apply(Ok("busy")).unwrap(), "fallback");
    assert_eq!(apply(Ok("live")).unwrap(), "live");
    let not_found = apply(Err(Error::Inner(io::ErrorKind::NotFound.into())));
    assert_eq!(
        not_found.unwrap_err().into_inner().unwrap().kind(),
        io::ErrorKind::NotFound
    );
    // The chosen rejection is still replaced, the others are not.
    assert_eq!(
        apply(Err(rejection(Reason::Timeout).await)).unwrap(),
        "fallback"
    );
    assert!(apply(Err(rejection(Reason::CircuitOpen).await)).is_err());
    assert_eq!(fallback.metrics().used_for(Reason::Classified), 2);
    assert_eq!(fallback.metrics().used_for(Reason::Timeout), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_fallback_returns_the_original_outcome_and_says_so() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let fallback = Fallback::builder(|_: Reason| -> &'static str { panic!("no cache") })
        .name("prices")
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let out: Out = fallback
        .run(|| async { Err(rejection(Reason::BulkheadFull).await) })
        .await;
    assert!(matches!(out, Err(Error::BulkheadFull(_))), "{out:?}");
    assert_eq!(fallback.metrics().panics, 1);
    assert_eq!(fallback.metrics().used_total(), 0);
    let name = bulwark::Name::from("prices");
    assert_eq!(
        *events.lock().unwrap(),
        [Event::Panicked {
            name,
            reason: Reason::BulkheadFull
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_classifier_replaces_nothing() {
    let fallback = Fallback::builder(|_: Reason| "fallback")
        .on_failure(|_: &Result<&'static str, io::Error>| -> Verdict { panic!("classifier bug") })
        .build()
        .unwrap();
    let out: Out = fallback.apply(Err(Error::Inner(io::Error::other("down"))));
    assert_eq!(out.unwrap_err().to_string(), "down");
    let ok: Out = fallback.apply(Ok("live"));
    assert_eq!(ok.unwrap(), "live");
    assert_eq!(fallback.metrics().panics, 2);
}

#[tokio::test(start_paused = true)]
async fn every_use_is_an_event_with_the_name_and_the_reason() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let fallback = Fallback::builder(|_: Reason| "fallback")
        .name("prices")
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    for kind in [Reason::Timeout, Reason::RateLimited] {
        let _: Out = fallback.apply(Err(rejection(kind).await));
    }
    let _: Out = fallback.apply(Ok("live"));
    let name = bulwark::Name::from("prices");
    assert_eq!(
        *events.lock().unwrap(),
        [
            Event::Used {
                name,
                reason: Reason::Timeout
            },
            Event::Used {
                name,
                reason: Reason::RateLimited
            },
        ]
    );
}

#[test]
fn classified_without_a_classifier_is_a_configuration_error() {
    let err = Fallback::builder(|_: Reason| 0)
        .on(Reason::Classified)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "on");
    let ok = Fallback::builder(|_: Reason| 0)
        .on(Reason::Classified)
        .on_failure(|_: &Result<i32, ()>| Verdict::Failure)
        .build();
    assert!(ok.is_ok());
}
