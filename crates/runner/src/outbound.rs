//! Outbound HTTP from a component: `allowed_outbound_hosts` enforcement,
//! service chaining to `http://<component-id>.spin.internal` and
//! `http://self`, both served in-process as Spin does.

use std::sync::Arc;

use careflow_manifest::default_port;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::app::{App, LoadedComponent};
use crate::server::{RouteInfo, invoke_http};

/// What a chained component sees as `spin-client-addr` (Spin's value).
const CHAINED_CLIENT: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// The suffix of service-chaining hosts.
const INTERNAL_SUFFIX: &str = ".spin.internal";

pub struct OutboundHooks {
    app: Arc<App>,
    component: Arc<LoadedComponent>,
}

impl OutboundHooks {
    pub fn new(app: Arc<App>, component: Arc<LoadedComponent>) -> Self {
        Self { app, component }
    }
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

/// Where an outgoing request goes once the allow-list has let it through.
enum Destination {
    /// Another component of this app, by id.
    Component(String),
    /// The app's public routes (`http://self`).
    SelfApp,
    Network,
}

/// Spin's self requests are relative URLs (`/api/…`, no host), allowed by
/// `http://self`; a host literally named `self` is an ordinary host.
fn destination(host: &str) -> Destination {
    if host.is_empty() {
        Destination::SelfApp
    } else if let Some(id) = host.strip_suffix(INTERNAL_SUFFIX) {
        Destination::Component(id.to_string())
    } else {
        Destination::Network
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let app = self.app.clone();
        let component = self.component.clone();
        Box::new(async move {
            let uri = request.uri().clone();
            let scheme = uri.scheme_str().unwrap_or("http").to_string();
            let host = uri.host().unwrap_or_default().to_ascii_lowercase();
            let port = uri.port_u16().unwrap_or_else(|| default_port(&scheme));
            let target = destination(&host);
            let allowed = match target {
                Destination::SelfApp => component.outbound.iter().any(|rule| rule.is_self()),
                _ => component
                    .outbound
                    .iter()
                    .any(|rule| !rule.is_self() && rule.allows(&scheme, &host, port)),
            };
            if !allowed {
                let shown = if host.is_empty() {
                    "self (a relative URL)".to_string()
                } else {
                    format!("{scheme}://{host}:{port}")
                };
                component.stderr_line(&format!(
                    "outbound request to {shown} denied: add it to allowed_outbound_hosts of [component.{}] in spin.toml",
                    component.id
                ));
                return Err(Error::HttpRequestDenied);
            }
            let target = match target {
                Destination::Network => {
                    use http_body_util::BodyExt;
                    let (res, io) =
                        wasmtime_wasi_http::default_send_request(request, options).await?;
                    return Ok((
                        res.map(BodyExt::boxed_unsync),
                        Box::new(io) as Box<dyn Future<Output = _> + Send>,
                    ));
                }
                Destination::SelfApp => {
                    let m = app
                        .router
                        .find(uri.path())
                        .ok_or(Error::DestinationNotFound)?;
                    (
                        m.target.clone(),
                        RouteInfo::from_match(&app.manifest.http.base, &m),
                    )
                }
                Destination::Component(id) => {
                    let router = app
                        .component_routers
                        .get(&id)
                        .ok_or(Error::DestinationNotFound)?;
                    let m = router.find(uri.path()).ok_or(Error::DestinationNotFound)?;
                    (id, RouteInfo::from_match("/", &m))
                }
            };
            let (id, route) = target;
            let callee = app
                .components
                .get(&id)
                .cloned()
                .ok_or(Error::DestinationNotFound)?;
            let response = invoke_http(&app, &callee, request, route, Some(CHAINED_CLIENT))
                .await
                .map_err(|e| Error::InternalError(Some(format!("{e:#}"))))?;
            Ok((
                response,
                Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hosts_name_a_component() {
        assert!(
            matches!(destination("admin.spin.internal"), Destination::Component(id) if id == "admin")
        );
        assert!(matches!(destination(""), Destination::SelfApp));
        assert!(matches!(destination("self"), Destination::Network));
        assert!(matches!(destination("example.com"), Destination::Network));
    }
}
