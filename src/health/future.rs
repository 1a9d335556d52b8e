//! The response future of the HTTP endpoint (feature `http`).

use super::check::BoxFuture;
use super::report::HealthReport;
use super::service::EndpointConfig;
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The response future of [`HealthEndpoint`](super::HealthEndpoint).
///
/// It holds the report's future boxed: a report joins one future per check and allocates its
/// result anyway, and a health probe is not a hot path.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    state: State,
}

enum State {
    Done(Option<Response<Full<Bytes>>>),
    Report {
        report: BoxFuture<'static, HealthReport>,
        config: Arc<EndpointConfig>,
        head: bool,
    },
}

impl ResponseFuture {
    pub(super) fn report(
        report: BoxFuture<'static, HealthReport>,
        config: Arc<EndpointConfig>,
        head: bool,
    ) -> Self {
        Self {
            state: State::Report {
                report,
                config,
                head,
            },
        }
    }

    pub(super) fn not_found() -> Self {
        Self::done(empty(StatusCode::NOT_FOUND))
    }

    pub(super) fn method_not_allowed() -> Self {
        let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        Self::done(response)
    }

    fn done(response: Response<Full<Bytes>>) -> Self {
        Self {
            state: State::Done(Some(response)),
        }
    }
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

fn render(report: &HealthReport, config: &EndpointConfig, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Full::default()
    } else {
        Full::new(Bytes::from(
            report.to_json(config.format, config.visibility),
        ))
    };
    let mut response = Response::new(body);
    *response.status_mut() = config.status_code(report.status());
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(config.format.content_type()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl Future for ResponseFuture {
    type Output = Result<Response<Full<Bytes>>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match &mut self.state {
            State::Done(response) => match response.take() {
                Some(response) => response,
                None => return Poll::Pending,
            },
            State::Report {
                report,
                config,
                head,
            } => match report.as_mut().poll(cx) {
                Poll::Ready(report) => render(&report, config, *head),
                Poll::Pending => return Poll::Pending,
            },
        };
        self.state = State::Done(None);
        Poll::Ready(Ok(response))
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Done(Some(_)) => "ready",
            State::Done(None) => "done",
            State::Report { .. } => "reporting",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}
