//! The HTTP side of `pgstate watch --metrics-listen ADDR`: hyper's HTTP/1 server on a tokio
//! current-thread runtime of its own, in the `metrics` thread, so that nothing a client does
//! reaches the watch loop. The metrics text itself is [`super::metrics`]'s.
//!
//! Prometheus often scrapes from another host, so every resource a client can make this
//! server hold is bounded by a named constant below (doc/watch.md lists them): the bytes of a
//! request head, its header count, the time to send it, the life of a connection, and the
//! number of connections. A connection past the cap does not wait for a slot: the oldest
//! connection is closed to make room, preferring one that has not sent a complete request
//! yet, so a crowd of idle or slow connections cannot keep a scrape from being answered. One
//! request per connection (no keep-alive), as before: Prometheus opens a connection per
//! scrape, and an idle kept-alive connection would hold a slot for nothing.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::AbortHandle;

use super::metrics::{render_watch, Scraped};

/// The most connections served at once. A scrape needs one for a few milliseconds; the cap
/// bounds the memory and file descriptors that many clients can make the process hold.
pub(super) const MAX_CONNECTIONS: usize = 64;

/// The most bytes of a request's line and headers; past it the answer is 431 and a close. A
/// scrape's head is about 200 bytes.
pub(super) const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;

/// The most bytes hyper buffers from one connection (its read buffer; hyper's minimum is
/// 8 KiB). The body of a request is never read.
pub(super) const MAX_BUFFER_BYTES: usize = 16 * 1024;

/// The most headers in a request; past it the answer is 431 and a close. Prometheus sends
/// about 5.
pub(super) const MAX_HEADERS: usize = 32;

/// How long a client has, from connecting, to send its whole request head; then the
/// connection is closed. A scrape's head is one packet.
pub(super) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(3);

/// How long one connection may last, request and answer: a client that reads the answer too
/// slowly is cut off then. Prometheus's default scrape timeout is 10 s as well.
pub(super) const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// The kernel's queue of connections not yet accepted. A burst of connections faster than
/// the accept loop (a client opening hundreds at once) overflows a short queue, and the
/// kernel then drops SYNs, among them a scrape's, which its client sends again only a second
/// later. The kernel holds the queue (and caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 1024;

/// The pause after a failed `accept` (such as EMFILE, out of file descriptors), so that a
/// connection the kernel keeps offering does not spin the thread.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How many times making room for a new connection yields to let an evicted one end before
/// the new one is refused instead (the evicted task ends on the next turn of the runtime;
/// the bound only keeps a surprise from looping).
const EVICTION_TURNS: usize = 8;

/// `/`: what a person opening the address in a browser sees.
const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>pgstate</title></head><body>\n\
<h1>pgstate watch</h1>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

/// Binds `addr` and serves `/` and `/metrics` from a thread, for as long as the process runs.
/// Binding and the runtime are set up here, so that their errors stop `watch` at its start.
pub(super) fn serve(addr: SocketAddr, scraped: Scraped) -> Result<SocketAddr> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("--metrics-listen: starting the runtime")?;
    let listener = {
        let _in_runtime = runtime.enter();
        listen(addr).with_context(|| format!("--metrics-listen {addr}: binding"))?
    };
    let local = listener
        .local_addr()
        .context("--metrics-listen: the bound address")?;
    tracing::info!(%local, "serving metrics on /metrics");
    let scraped = Arc::new(scraped);
    std::thread::Builder::new()
        .name("metrics".to_owned())
        .spawn(move || runtime.block_on(accept_loop(listener, scraped)))
        .context("starting the metrics thread")?;
    Ok(local)
}

/// A listening socket on `addr` with a [`LISTEN_BACKLOG`] (std's `bind` gives 128) and,
/// as std's, `SO_REUSEADDR`, so that a restarted service can bind again at once.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The HTTP/1 settings of every connection: the bounds above.
fn http() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_BUFFER_BYTES)
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .keep_alive(false);
    b
}

/// Accepts connections for ever, each served by a task of its own.
async fn accept_loop(listener: TcpListener, scraped: Arc<Scraped>) {
    let table = Table::default();
    let http = http();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::debug!("metrics: accept: {e}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            }
        };
        if !table.make_room().await {
            tracing::debug!("metrics: no room among {MAX_CONNECTIONS} connections; refused one");
            continue;
        }
        let id = table.with(|t| {
            t.next_id += 1;
            t.next_id
        });
        let slot = Slot {
            table: table.clone(),
            id,
        };
        let task = tokio::spawn(connection(stream, http.clone(), Arc::clone(&scraped), slot));
        // On this current-thread runtime the task cannot run, and so cannot end, before this
        // insertion: it only runs when the accept loop next yields.
        table.with(|t| {
            t.conns.insert(
                id,
                Entry {
                    abort: task.abort_handle(),
                    answering: false,
                    evicted: false,
                },
            )
        });
    }
}

/// One connection: hyper reads the request within the bounds, [`respond`] answers, and the
/// whole is cut off after [`CONNECTION_TIMEOUT`].
async fn connection(stream: TcpStream, http: http1::Builder, scraped: Arc<Scraped>, slot: Slot) {
    let service = service_fn(|request: Request<Incoming>| {
        slot.answering();
        let response = respond(&request, &scraped);
        async move { Ok::<_, Infallible>(response) }
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
        Ok(Ok(())) => {}
        // A malformed or oversized request (hyper has answered 400 or 431), a timed-out head,
        // a client gone: the client's doing, not an error of pgstate's.
        Ok(Err(e)) => tracing::debug!("metrics: {e}"),
        Err(_) => tracing::debug!("metrics: connection cut off after {CONNECTION_TIMEOUT:?}"),
    }
}

/// The answer to one request: `/metrics` and `/` to `GET` and `HEAD` (hyper sends no body
/// for `HEAD`, and keeps its `Content-Length`), 405 for other methods, 404 for other paths.
fn respond(request: &Request<Incoming>, scraped: &Scraped) -> Response<String> {
    let metrics = match request.uri().path() {
        "/metrics" => true,
        "/" => false,
        _ => {
            return answer(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "pgstate serves / and /metrics only\n".to_owned(),
            )
        }
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut r = answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "GET or HEAD only\n".to_owned(),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if metrics {
        answer(
            StatusCode::OK,
            prometheus_text::CONTENT_TYPE,
            render_watch(scraped),
        )
    } else {
        answer(StatusCode::OK, "text/html; charset=utf-8", INDEX.to_owned())
    }
}

fn answer(status: StatusCode, kind: &'static str, body: String) -> Response<String> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    r
}

/// The connections being served, oldest first (ids only grow).
#[derive(Clone, Default)]
struct Table(Arc<Mutex<Connections>>);

#[derive(Default)]
struct Connections {
    next_id: u64,
    conns: BTreeMap<u64, Entry>,
}

struct Entry {
    abort: AbortHandle,
    /// Its request has arrived whole and is being answered.
    answering: bool,
    /// Aborted to make room; its task ends on the runtime's next turn.
    evicted: bool,
}

impl Table {
    fn with<T>(&self, f: impl FnOnce(&mut Connections) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether a new connection may be served: below [`MAX_CONNECTIONS`], or once the oldest
    /// connection (one still waiting for its request if there is one) has been closed.
    async fn make_room(&self) -> bool {
        for _ in 0..EVICTION_TURNS {
            let full = self.with(|t| {
                if t.conns.len() < MAX_CONNECTIONS {
                    return false;
                }
                if !t.conns.values().any(|e| e.evicted) {
                    let id = t
                        .conns
                        .iter()
                        .find(|(_, e)| !e.answering)
                        .or_else(|| t.conns.iter().next())
                        .map(|(id, _)| *id);
                    let victim = id.and_then(|id| t.conns.get_mut(&id));
                    if let Some(e) = victim {
                        e.abort.abort();
                        e.evicted = true;
                    }
                }
                true
            });
            if !full {
                return true;
            }
            // Lets the aborted task be dropped, which removes it from the table.
            tokio::task::yield_now().await;
        }
        false
    }
}

/// A connection's place in the [`Table`], given up when its task ends or is aborted.
struct Slot {
    table: Table,
    id: u64,
}

impl Slot {
    fn answering(&self) {
        self.table.with(|t| {
            if let Some(e) = t.conns.get_mut(&self.id) {
                e.answering = true;
            }
        });
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.with(|t| t.conns.remove(&self.id));
    }
}
