//! A timeout, standalone and as a tower layer: `cargo run --example timeout`.
//!
//! Time is tokio's paused clock: the 5-second call takes no real time.

use bulwark::ServiceBuilderExt;
use bulwark::timeout::{Elapsed, Timeout};
use std::time::Duration;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), BoxError> {
    // Standalone: bound any future; a timeout is a typed `Elapsed`.
    let timeout = Timeout::new(Duration::from_millis(100));
    let fast = timeout.run(async { "fast reply" }).await;
    println!("standalone, fast call: {fast:?}");
    let slow = timeout
        .run(tokio::time::sleep(Duration::from_secs(5)))
        .await;
    println!("standalone, slow call: {slow:?}");

    // Tower: the same rule around a service; the error is a `BoxError` holding an `Elapsed`.
    let mut lookup = ServiceBuilder::new()
        .bulwark_timeout(Duration::from_millis(100))
        .service(service_fn(|delay: Duration| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, BoxError>(format!("answered after {delay:?}"))
        }));
    for delay in [Duration::from_millis(30), Duration::from_secs(5)] {
        match lookup.ready().await?.call(delay).await {
            Ok(reply) => println!("layer: {reply}"),
            Err(e) if e.is::<Elapsed>() => println!("layer: gave up: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
