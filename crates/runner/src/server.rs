//! The HTTP trigger: accepts connections, routes each request to a
//! component as Spin's HTTP trigger does (with Spin's request headers), and
//! runs the component's `wasi:http/incoming-handler` in a fresh instance.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Body;
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{Error as HttpError, WasiHttpView};

use crate::app::{App, LoadedComponent};

/// What Spin tells a component about the route that matched.
#[derive(Debug, Clone, Default)]
pub struct RouteInfo {
    pub base: String,
    pub matched_route: String,
    pub component_route: String,
    pub raw_component_route: String,
    pub path_info: String,
    pub params: BTreeMap<String, String>,
}

impl RouteInfo {
    pub fn from_match(base: &str, m: &careflow_routes::RouteMatch<'_, String>) -> Self {
        Self {
            base: base.to_string(),
            matched_route: m.matched_route.to_string(),
            component_route: m.component_route.to_string(),
            raw_component_route: m.raw_component_route.to_string(),
            path_info: m.path_info.clone(),
            params: m.params.clone(),
        }
    }
}

pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut res = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Serves one request from the outside.
pub async fn handle(
    app: Arc<App>,
    req: Request<hyper::body::Incoming>,
    client: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let limit = app.options.max_request_body;
    if req.body().size_hint().lower() > limit as u64 {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("request body is larger than {limit} bytes"),
        );
    }
    let Some(m) = app.router.find(req.uri().path()) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no route for {}", req.uri().path()),
        );
    };
    let route = RouteInfo::from_match(&app.manifest.http.base, &m);
    let component = app.components[m.target].clone();
    let req = req.map(move |body| {
        http_body_util::Limited::new(body, limit)
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(e) => HttpError::Hyper(*e),
                Err(_) => HttpError::HttpRequestBodySize(None),
            })
            .boxed_unsync()
    });
    match invoke_http(&app, &component, req, route, Some(client)).await {
        Ok(res) => res,
        Err(e) => {
            component.stderr_line(&format!("request failed: {e:#}"));
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "component_failed",
                "the component failed to handle the request; see the runner's log",
            )
        }
    }
}

/// Runs `component`'s HTTP handler for `req` in a fresh instance.
pub async fn invoke_http<B>(
    app: &Arc<App>,
    component: &Arc<LoadedComponent>,
    mut req: Request<B>,
    route: RouteInfo,
    client: Option<SocketAddr>,
) -> anyhow::Result<Response<HyperOutgoingBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<HttpError>,
{
    let pre = component
        .http
        .clone()
        .context("component has no HTTP handler")?;
    add_spin_headers(&mut req, &route, client);
    let mut store = app.new_store(component);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let outparam = store.data_mut().http().new_response_outparam(sender)?;
    let timeout = app.options.request_timeout;
    let task = tokio::task::spawn(async move {
        let run = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(wasmtime::format_err!("timed out after {timeout:?}")),
        }
    });
    match receiver.await {
        Ok(Ok(res)) => Ok(res),
        Ok(Err(code)) => Err(anyhow::anyhow!("component answered with error {code:?}")),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(anyhow::anyhow!(
                "component returned without setting a response"
            )),
            Ok(Err(e)) => Err(anyhow::anyhow!("{e:?}")),
            Err(e) => Err(e.into()),
        },
    }
}

fn add_spin_headers<B>(req: &mut Request<B>, route: &RouteInfo, client: Option<SocketAddr>) {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let full_url = format!("http://{host}{path_and_query}");
    if let Ok(uri) = full_url.parse() {
        *req.uri_mut() = uri;
    }
    let headers = req.headers_mut();
    let mut set = |name: String, value: &str| {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    };
    set("spin-full-url".into(), &full_url);
    set("spin-path-info".into(), &route.path_info);
    set("spin-matched-route".into(), &route.matched_route);
    set("spin-component-route".into(), &route.component_route);
    set(
        "spin-raw-component-route".into(),
        &route.raw_component_route,
    );
    set("spin-base-path".into(), &route.base);
    if let Some(client) = client {
        set("spin-client-addr".into(), &client.to_string());
    }
    for (name, value) in &route.params {
        set(
            format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        );
    }
}

/// Binds `addr`, with a clear message when it is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!("cannot listen on {addr}: the address is already in use (another `careflow up`? choose another with --listen)")
        } else {
            anyhow::anyhow!("cannot listen on {addr}: {e}")
        }
    })
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    use hyper_util::rt::TokioIo;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(a) => a,
                    Err(e) => { eprintln!("careflow: accept failed: {e}"); continue; }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, std::convert::Infallible>(handle(app, req, client).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move { let _ = conn.await; });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    eprintln!("careflow: shutting down; finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(app.options.request_timeout) => {
            eprintln!("careflow: gave up waiting for in-flight requests");
        }
    }
    Ok(())
}
