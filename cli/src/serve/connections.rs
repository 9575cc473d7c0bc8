//! Accepting and serving connections, with the limits that keep a broken or
//! hostile client from holding the server: a header timeout, a cap on open
//! connections that idle ones give way under, bounded buffers, and a
//! shutdown that waits only for requests in flight, and for them not long.
//!
//! axum::serve has none of these knobs, so connections are served here with
//! hyper's own HTTP/1 builder; the router is the same tower service.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::rt::ReadBufCursor;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// How long shutdown waits for requests in flight to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The largest request head (request line and headers) read into memory;
/// hyper answers 431 beyond it. Its default (~400 KB) times the connection
/// cap would be a lot of memory for a dashboard's requests.
const MAX_HEAD: usize = 64 * 1024;

pub struct Limits {
    /// Connections open at once. At the cap, a new connection closes the
    /// oldest idle one; when every one is busy, it waits (in the kernel's
    /// accept queue) until one closes.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, counted
    /// from when it opens or its previous response ends: this closes
    /// half-sent requests and idle keep-alive connections alike. Also how
    /// long a response may wait for a client that reads nothing.
    pub header_timeout: Duration,
}

/// One open connection, as the accept loop sees it.
#[derive(Default)]
struct Conn {
    /// Requests whose response is not yet sent to its end (an event stream
    /// counts until it ends). Zero: the connection is waiting for a request
    /// (or has sent half of one), and closing it loses nothing.
    busy: AtomicUsize,
    /// Asks the connection to close if it is idle: its slot is wanted.
    shed: Notify,
}

impl Conn {
    fn idle(&self) -> bool {
        self.busy.load(Ordering::SeqCst) == 0
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then closes
/// idle connections at once and gives requests in flight SHUTDOWN_GRACE
/// (the tasks still running after it are dropped with the set).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing_tx, closing) = watch::channel(false);
    let mut tasks = JoinSet::new();
    // Oldest first. A connection's task and its requests hold clones of its
    // Conn: once only this one is left, the connection is gone.
    let mut open: Vec<Arc<Conn>> = Vec::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of file descriptors, or a connection reset before it was
            // accepted: pause briefly rather than spin, then go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        open.retain(|c| Arc::strong_count(c) > 1);
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // Idle connections must not keep requests out.
                if let Some(oldest_idle) = open.iter().find(|c| c.idle()) {
                    oldest_idle.shed.notify_one();
                }
                tokio::select! {
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break, // never: the semaphore is not closed
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        let conn = Arc::new(Conn::default());
        open.push(conn.clone());
        tasks.spawn(connection(stream, router.clone(), permit, limits.header_timeout, conn, closing.clone()));
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
}

/// Serves one connection, holding its permit until it closes.
async fn connection(
    stream: TcpStream,
    router: Router,
    _permit: OwnedSemaphorePermit,
    header_timeout: Duration,
    conn: Arc<Conn>,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true); // small responses and events go out at once
    let service = {
        let conn = conn.clone();
        service_fn(move |req: Request<Incoming>| {
            let busy = Busy::start(&conn);
            let router = router.clone();
            async move {
                let response = router.oneshot(req.map(Body::new)).await?;
                Ok::<Response, Infallible>(response.map(|body| Body::new(Counted { body, _busy: busy })))
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).max_buf_size(MAX_HEAD);
    let io = Stalling { io: TokioIo::new(stream), limit: header_timeout, since: None };
    let mut http = pin!(builder.serve_connection(io, service));
    loop {
        tokio::select! {
            _ = http.as_mut() => return,
            _ = conn.shed.notified() => {
                if conn.idle() {
                    return;
                }
                // A request came in meanwhile: close after its response.
                http.as_mut().graceful_shutdown();
            }
            _ = closing.wait_for(|c| *c) => break,
        }
    }
    if conn.idle() {
        return; // waiting for a request, or half of one: nothing to finish
    }
    http.as_mut().graceful_shutdown(); // closes after the response in flight
    let _ = http.await;
}

/// Counts a request as in flight while it lives.
struct Busy(Arc<Conn>);

impl Busy {
    fn start(conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, Ordering::SeqCst);
        Busy(conn.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request counted as in flight until hyper
/// has sent it to its end (or dropped it).
struct Counted {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The connection's socket, failing a write that has waited `limit` for a
/// client that reads nothing (its buffers full): such a client would hold
/// its connection, busy, forever.
struct Stalling {
    io: TokioIo<TcpStream>,
    limit: Duration,
    /// Running while writes wait; reset by any progress.
    since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stalling {
    /// Pending until the write has waited too long, then an error.
    fn waited<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.limit;
        let timer = self.since.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client reads nothing")))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn write<T>(&mut self, cx: &mut Context<'_>, done: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match done {
            Poll::Pending => self.waited(cx),
            ready => {
                self.since = None;
                ready
            }
        }
    }
}

impl hyper::rt::Read for Stalling {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stalling {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_write(cx, buf);
        this.write(cx, done)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.write(cx, done)
    }

    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.io)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.io).poll_flush(cx);
        this.write(cx, done)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
