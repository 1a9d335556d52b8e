//! The HTTP endpoint (feature `http`): a tower `Service` for any `http::Request`.

use super::check::{Status, Tag};
use super::future::ResponseFuture;
use super::handle::{HealthAggregator, Selection};
use super::json::{JsonFormat, Visibility};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// Serves health reports over HTTP: `GET /health`, `/health/live`, `/health/ready` and
/// `/health/startup` by default. From [`HealthAggregator::endpoint`].
///
/// Answers `200 OK` for `Healthy`, `200 OK` for `Degraded` unless
/// [`degraded_status`](Self::degraded_status) says otherwise, `503 Service Unavailable` for
/// `Unhealthy`; `404` for a path it does not serve and `405` for a method other than `GET` and
/// `HEAD`. The body is JSON in [`JsonFormat::HealthJson`] unless [`format`](Self::format) says
/// otherwise, showing only the overall status unless [`visibility`](Self::visibility) or
/// [`show_details`](Self::show_details) says otherwise. Responses carry `Cache-Control: no-store`.
///
/// Cheap to clone: clones share the aggregator and the configuration. Always ready.
#[derive(Clone)]
pub struct HealthEndpoint {
    aggregator: HealthAggregator,
    config: Arc<EndpointConfig>,
}

#[derive(Clone, Debug)]
pub(super) struct EndpointConfig {
    routes: Vec<(Cow<'static, str>, Selection)>,
    pub(super) format: JsonFormat,
    pub(super) visibility: Visibility,
    pub(super) degraded_status: StatusCode,
}

impl EndpointConfig {
    pub(super) fn status_code(&self, status: Status) -> StatusCode {
        match status {
            Status::Healthy => StatusCode::OK,
            Status::Degraded => self.degraded_status,
            Status::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl HealthAggregator {
    /// An HTTP endpoint serving this aggregator's reports; see [`HealthEndpoint`].
    pub fn endpoint(&self) -> HealthEndpoint {
        let routes = vec![
            (Cow::Borrowed("/health"), Selection::All),
            (
                Cow::Borrowed("/health/live"),
                Selection::Tagged(Tag::Liveness),
            ),
            (
                Cow::Borrowed("/health/ready"),
                Selection::Tagged(Tag::Readiness),
            ),
            (
                Cow::Borrowed("/health/startup"),
                Selection::Tagged(Tag::Startup),
            ),
        ];
        HealthEndpoint {
            aggregator: self.clone(),
            config: Arc::new(EndpointConfig {
                routes,
                format: JsonFormat::default(),
                visibility: Visibility::default(),
                degraded_status: StatusCode::OK,
            }),
        }
    }
}

impl HealthEndpoint {
    /// Serves `selection` at `path` (an exact match on the request path), replacing what
    /// `path` served before.
    #[must_use]
    pub fn route(
        mut self,
        path: impl Into<Cow<'static, str>>,
        selection: impl Into<Selection>,
    ) -> Self {
        let (path, selection) = (path.into(), selection.into());
        let routes = &mut Arc::make_mut(&mut self.config).routes;
        routes.retain(|(p, _)| *p != path);
        routes.push((path, selection));
        self
    }

    /// Serves exactly these routes, replacing the defaults.
    #[must_use]
    pub fn routes<P, S>(mut self, routes: impl IntoIterator<Item = (P, S)>) -> Self
    where
        P: Into<Cow<'static, str>>,
        S: Into<Selection>,
    {
        Arc::make_mut(&mut self.config).routes.clear();
        for (path, selection) in routes {
            self = self.route(path, selection);
        }
        self
    }

    /// The JSON shape of the body.
    #[must_use]
    pub fn format(mut self, format: JsonFormat) -> Self {
        Arc::make_mut(&mut self.config).format = format;
        self
    }

    /// How much of the report the body shows.
    #[must_use]
    pub fn visibility(mut self, visibility: Visibility) -> Self {
        Arc::make_mut(&mut self.config).visibility = visibility;
        self
    }

    /// `true` shows every check with its message and details ([`Visibility::Full`]); `false`
    /// only the overall status ([`Visibility::Status`], the default).
    #[must_use]
    pub fn show_details(self, show: bool) -> Self {
        self.visibility(if show {
            Visibility::Full
        } else {
            Visibility::Status
        })
    }

    /// The status code for a `Degraded` report (default `200 OK`; Consul reads `429` as
    /// "warning").
    #[must_use]
    pub fn degraded_status(mut self, code: StatusCode) -> Self {
        Arc::make_mut(&mut self.config).degraded_status = code;
        self
    }

    /// The paths served, in the order they were added: handy to register each with a router.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.config.routes.iter().map(|(p, _)| &**p)
    }

    /// The aggregator whose reports are served.
    pub fn aggregator(&self) -> &HealthAggregator {
        &self.aggregator
    }

    fn selection(&self, path: &str) -> Option<&Selection> {
        self.config
            .routes
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, s)| s)
    }
}

impl<B> Service<Request<B>> for HealthEndpoint {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let head = req.method() == Method::HEAD;
        if req.method() != Method::GET && !head {
            return ResponseFuture::method_not_allowed();
        }
        match self.selection(req.uri().path()) {
            None => ResponseFuture::not_found(),
            Some(selection) => ResponseFuture::report(
                Box::pin(self.aggregator.report_selected(selection.clone())),
                self.config.clone(),
                head,
            ),
        }
    }
}

impl fmt::Debug for HealthEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthEndpoint")
            .field("aggregator", &self.aggregator)
            .field("config", &self.config)
            .finish()
    }
}
