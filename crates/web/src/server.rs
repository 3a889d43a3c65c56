//! The HTTP server: the UI's files and the WebSocket.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::assets::Assets;
use crate::socket;
use crate::Backend;

/// The most browsers connected at once: a room of people, with room to spare, and a bound
/// on what a misbehaving device on the network can make this laptop hold.
pub const MAX_SOCKETS: usize = 64;
/// The largest message a browser may send (a note or a value's wording is far smaller).
pub(crate) const MAX_INCOMING: usize = 256 * 1024;

#[derive(Clone)]
pub(crate) struct Shared {
    pub backend: Arc<dyn Backend>,
    assets: Arc<dyn Assets>,
    sockets: Arc<Semaphore>,
}

/// The running web front door. Dropping it stops it.
#[derive(Debug)]
pub struct WebHandle {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl WebHandle {
    /// Where it listens, as bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops serving (open WebSockets close as their tasks notice).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl Drop for WebHandle {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Starts serving the UI from `assets` and the WebSocket for `backend` at `listen`.
pub async fn start(
    listen: SocketAddr,
    backend: Arc<dyn Backend>,
    assets: Arc<dyn Assets>,
) -> std::io::Result<WebHandle> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let address = listener.local_addr()?;
    let shared = Shared { backend, assets, sockets: Arc::new(Semaphore::new(MAX_SOCKETS)) };
    let router = Router::new().route("/ws", get(upgrade)).fallback(get(file)).with_state(shared);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serving = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serving.await {
            tracing::warn!(error = %e, "the web front door stopped");
        }
    });
    tracing::info!(%address, "web front door open");
    Ok(WebHandle { address, stop: Some(stop), task })
}

async fn upgrade(State(shared): State<Shared>, ws: WebSocketUpgrade) -> Response {
    let Ok(permit) = shared.sockets.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "Too many devices are connected to this laptop right now.")
            .into_response();
    };
    ws.max_message_size(MAX_INCOMING).max_frame_size(MAX_INCOMING).on_upgrade(move |socket| async move {
        socket::run(socket, shared.backend.clone()).await;
        drop(permit);
    })
}

async fn file(State(shared): State<Shared>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    // The page is one document: any path that isn't a file is the page itself.
    let path = if path.is_empty() || !path.rsplit('/').next().unwrap_or_default().contains('.') {
        "index.html"
    } else {
        path
    };
    let Some(asset) = shared.assets.get(path) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let mut response = (StatusCode::OK, asset.bytes.into_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    // The page holds nothing secret (the key is in the fragment), but it must not be cached
    // across app versions, framed by another page, or leak its address onwards.
    let cache = if path == "index.html" { "no-store" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; \
             style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}
