//! `packline serve`'s socket: the listener, one task per connection, the frames, and shutdown.
//!
//! Frames are a 4-byte big-endian length and a JSON message, at most [`MAX_FRAME`] bytes. The
//! peer's uid comes from the kernel (`SO_PEERCRED`), never from the client. A bad frame gets an
//! error reply and the connection is closed; every other client carries on. There is no TCP
//! listener, ever.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::ops::Answer;
use super::{Caller, Notice, Request, Service, ServiceError};

/// The largest frame either side accepts.
pub const MAX_FRAME: usize = 4 << 20;
pub use crate::config::{MAX_CONNECTIONS, MAX_PER_USER};

/// The version of the frames and requests a client and its daemon exchange: raised with every
/// change a daemon of another build would read differently. A daemon refuses a client of
/// another protocol, naming both versions, instead of failing on a frame it cannot decode.
pub const PROTOCOL: u32 = 3;

/// A client's message: a request and the id its reply will carry, with the protocol and the
/// packline version the client speaks (none: a client from before protocol versions).
#[derive(Debug, Serialize, Deserialize)]
pub struct ClientFrame {
    pub id: u64,
    #[serde(default)]
    pub protocol: u32,
    #[serde(default)]
    pub version: String,
    pub request: Request,
}

impl ClientFrame {
    pub fn new(id: u64, request: Request) -> ClientFrame {
        ClientFrame {
            id,
            protocol: PROTOCOL,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            request,
        }
    }
}

/// What a daemon reads of a frame it cannot decode: who sent it.
#[derive(Deserialize)]
struct Sender {
    #[serde(default)]
    protocol: u32,
    #[serde(default)]
    version: String,
}

/// The refusal of a client that speaks another protocol, or none when it speaks this one.
fn other_protocol(protocol: u32, version: &str) -> Option<ServiceError> {
    (protocol != PROTOCOL).then(|| {
        let client = match version {
            "" => "an older packline".to_owned(),
            v => format!("packline {v} (protocol {protocol})"),
        };
        ServiceError::Protocol(format!(
            "this client is {client}, the daemon packline {} (protocol {PROTOCOL}): run the same \
             packline on both sides (after an upgrade, restart the daemon)",
            env!("CARGO_PKG_VERSION")
        ))
    })
}

/// The daemon's messages: replies, and notices pushed as they happen.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerFrame {
    Reply {
        id: u64,
        /// The operation's answer as JSON: the client decodes the type the operation names.
        result: Result<Answer, ServiceError>,
    },
    Notice(Notice),
}

/// The daemon's side of the frames: the same codec, and when the frame being read began (a
/// length prefix or any of the body has arrived), so a frame left half-sent can be cut off even
/// when only its length came: the codec has already set aside room for the whole of it.
pub struct ServerCodec {
    inner: LengthDelimitedCodec,
    started: Option<std::time::Instant>,
}

impl Default for ServerCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerCodec {
    pub fn new() -> ServerCodec {
        ServerCodec {
            inner: codec(),
            started: None,
        }
    }

    /// How long the frame in progress has been arriving, if one is.
    fn in_progress(&self) -> Option<std::time::Duration> {
        self.started.map(|t| t.elapsed())
    }
}

impl tokio_util::codec::Decoder for ServerCodec {
    type Item = bytes::BytesMut;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut bytes::BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if !src.is_empty() && self.started.is_none() {
            self.started = Some(std::time::Instant::now());
        }
        let frame = self.inner.decode(src)?;
        if frame.is_some() {
            // The next frame starts with whatever is left.
            self.started = (!src.is_empty()).then(std::time::Instant::now);
        }
        Ok(frame)
    }
}

impl tokio_util::codec::Encoder<bytes::Bytes> for ServerCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: bytes::Bytes, dst: &mut bytes::BytesMut) -> Result<(), Self::Error> {
        self.inner.encode(item, dst)
    }
}

pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "another packline daemon is already serving {0}: stop it first (or set [service] socket)"
    )]
    InUse(PathBuf),
    #[error("socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("socket group {0:?} does not exist: create it or fix [service] socket_group")]
    NoGroup(String),
}

/// Binds the socket: 0660, in `group` if given. A stale socket file left by a crash is
/// replaced; a live daemon's is not.
pub fn bind(path: &Path, group: Option<&str>) -> Result<UnixListener, BindError> {
    let io = |source| BindError::Io {
        path: path.to_owned(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(BindError::InUse(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    if let Some(g) = group {
        let gid = nix::unistd::Group::from_name(g)
            .ok()
            .flatten()
            .ok_or_else(|| BindError::NoGroup(g.to_owned()))?
            .gid;
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| io(std::io::Error::from_raw_os_error(e as i32)))?;
    }
    Ok(listener)
}

/// The OS user name of a uid.
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid:{uid}"),
    }
}

/// Serves until `shutdown` turns true: then stops accepting, lets each connection finish the
/// request in hand, flushes the store and removes the socket file.
pub async fn serve(
    service: Arc<Service>,
    listener: UnixListener,
    socket: PathBuf,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut conns = tokio::task::JoinSet::new();
    // Live connections by the uid on the other end; each connection's guard counts itself out
    // when its task ends, however it ends.
    let per_uid: Arc<std::sync::Mutex<HashMap<u32, usize>>> = Arc::default();
    let quick = quick_worker(service.clone());
    let mut refusals = Refusals::default();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let uid = stream.peer_cred().map(|c| c.uid()).ok();
                    let mine = uid.map_or(0, |u| {
                        per_uid.lock().unwrap_or_else(|p| p.into_inner()).get(&u).copied().unwrap_or(0)
                    });
                    let full = if conns.len() >= MAX_CONNECTIONS {
                        Some(format!(
                            "the packline daemon serves {MAX_CONNECTIONS} connections at most: try again shortly"
                        ))
                    } else if mine >= service.settings.connections_per_user {
                        Some(format!(
                            "this user has {} connections to the packline daemon open already: close one (a terminal, a script) and try again",
                            service.settings.connections_per_user
                        ))
                    } else {
                        None
                    };
                    if let Some(text) = full {
                        // This one is told so, in what the socket takes at once, and closed:
                        // no task, no wait, so a flood of them costs the floor little.
                        refusals.note(uid, conns.len());
                        if let Ok(mut std) = stream.into_std() {
                            use std::io::Write as _;
                            let _ = std.write(&refusal_frame(text));
                        }
                        continue;
                    }
                    let guard = uid.map(|u| UserSlot::take(&per_uid, u));
                    let task = connection(service.clone(), stream, shutdown.clone(), quick.clone());
                    conns.spawn(async move {
                        let _slot = guard;
                        if task.await {
                            // Closed already; its slot stays taken a while.
                            tokio::time::sleep(TARPIT).await;
                        }
                    });
                }
                Err(e) => {
                    tracing::error!("accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(std::time::Duration::from_secs(10), drain)
        .await
        .is_err()
    {
        tracing::warn!("connections still busy after 10 s at shutdown; closing them");
    }
    let svc = service.clone();
    tokio::task::spawn_blocking(move || svc.with_store(|s| s.flush()))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    Ok(())
}

/// A refusal as one frame on the wire (length and JSON).
fn refusal_frame(text: String) -> Vec<u8> {
    let body = serde_json::to_vec(&ServerFrame::Reply {
        id: 0,
        result: Err(ServiceError::Protocol(text)),
    })
    .unwrap_or_default();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Connections refused for the caps, logged at most every [`Refusals::EVERY`] with how many.
#[derive(Default)]
struct Refusals {
    since: Option<std::time::Instant>,
    unlogged: u64,
}

impl Refusals {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

    fn note(&mut self, uid: Option<u32>, connections: usize) {
        self.unlogged += 1;
        if self.since.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return;
        }
        tracing::warn!(
            connections,
            uid,
            refused = self.unlogged,
            "refused connections: too many (the count since the last such line)"
        );
        self.since = Some(std::time::Instant::now());
        self.unlogged = 0;
    }
}

/// How long the slot of a connection that broke the protocol stays taken after it is closed: a
/// client that floods the daemon with bad frames gets a full connection a few times a second,
/// not thousands (the rest are refused at the cap, which costs little).
pub const TARPIT: std::time::Duration = std::time::Duration::from_secs(1);

/// One connection of a user, counted in while it lives.
struct UserSlot {
    counts: Arc<std::sync::Mutex<HashMap<u32, usize>>>,
    uid: u32,
}

impl UserSlot {
    fn take(counts: &Arc<std::sync::Mutex<HashMap<u32, usize>>>, uid: u32) -> UserSlot {
        *counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(uid)
            .or_default() += 1;
        UserSlot {
            counts: counts.clone(),
            uid,
        }
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.uid);
            }
        }
    }
}

async fn send(
    framed: &mut Framed<UnixStream, ServerCodec>,
    frame: &ServerFrame,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(frame).map_err(std::io::Error::other)?;
    if bytes.len() > MAX_FRAME
        && let ServerFrame::Reply { id, .. } = frame
    {
        // Too big for one frame: say so rather than drop the connection.
        let err =
            ServiceError::Invalid("the answer is too large for one reply: ask for less".into());
        bytes = serde_json::to_vec(&ServerFrame::Reply {
            id: *id,
            result: Err(err),
        })
        .map_err(std::io::Error::other)?;
    }
    framed.send(bytes::Bytes::from(bytes)).await
}

/// [`send`], given up after `timeout` (a client that never reads cannot hold its connection's
/// task, and what it has not read, for ever).
async fn send_within(
    timeout: std::time::Duration,
    framed: &mut Framed<UnixStream, ServerCodec>,
    frame: &ServerFrame,
) -> std::io::Result<()> {
    tokio::time::timeout(timeout, send(framed, frame))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// The workers for quick requests, taking them in arrival order: one thread on the embedded
/// store (whose calls take microseconds), twice the cores on a database (where each waits on a
/// round trip; `Location::parallel_requests`).
type QuickJob = (
    Caller,
    Request,
    tokio::sync::oneshot::Sender<Result<Answer, ServiceError>>,
);

fn quick_worker(service: Arc<Service>) -> std::sync::mpsc::Sender<QuickJob> {
    let (tx, rx) = std::sync::mpsc::channel::<QuickJob>();
    let workers = service.with_store(|s| s.location().parallel_requests());
    let rx = Arc::new(std::sync::Mutex::new(rx));
    for n in 0..workers {
        let (service, rx) = (service.clone(), rx.clone());
        std::thread::Builder::new()
            .name(format!("packline-quick-{n}"))
            .spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((caller, request, reply)) = job else {
                        return;
                    };
                    let _ = reply.send(request.run(&service, &caller));
                }
            })
            .expect("a thread for quick requests");
    }
    tx
}

/// Serves one connection until it closes; whether the client broke the protocol (a bad or
/// unfinished frame, replies left unread).
async fn connection(
    service: Arc<Service>,
    stream: UnixStream,
    mut shutdown: watch::Receiver<bool>,
    quick: std::sync::mpsc::Sender<QuickJob>,
) -> bool {
    let uid = match stream.peer_cred() {
        Ok(c) => c.uid(),
        Err(e) => {
            tracing::warn!("a connection without peer credentials: {e}");
            return false;
        }
    };
    let user = user_name(uid);
    let mut framed = Framed::new(stream, ServerCodec::new());
    let caller = match service.caller(&user) {
        Ok(c) => c,
        Err(e) => {
            // Audited once per user per interval: a flood of connections cannot grow the store.
            let svc = service.clone();
            let who = user.clone();
            let _ = tokio::task::spawn_blocking(move || {
                svc.record_refusal(&who, "connect", "no role in the config")
            })
            .await;
            let _ = send_within(
                service.settings().frame_timeout,
                &mut framed,
                &ServerFrame::Reply {
                    id: 0,
                    result: Err(e),
                },
            )
            .await;
            return false;
        }
    };
    service.connected(&caller.user);
    let mut notices = service.subscribe();
    tracing::info!(user = %caller.user, role = caller.role.name(), "client connected");
    // A frame begun must be finished within the timeout, and every frame sent must be taken:
    // a client that stalls half-way through a frame (its buffer held) or never reads is let go.
    let timeout = service.settings().frame_timeout;
    // The reader waits inside `next()` while a frame is incomplete: a tick looks at the codec.
    let mut check = tokio::time::interval(timeout / 2);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut broke = false;
    loop {
        let stalled = framed.codec().in_progress().is_some_and(|d| d >= timeout);
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = check.tick(), if !stalled => continue,
            _ = std::future::ready(()), if stalled => {
                tracing::warn!(user = %caller.user, "a frame left half-sent: connection closed");
                let err = ServiceError::Protocol(format!(
                    "a frame was left unfinished for {} s: connection closed",
                    timeout.as_secs()
                ));
                let _ = send_within(timeout, &mut framed, &ServerFrame::Reply { id: 0, result: Err(err) }).await;
                broke = true;
                break;
            }
            frame = framed.next() => {
                let Some(frame) = frame else { break };
                match frame {
                    Ok(bytes) => {
                        if !answer(&service, &caller, &mut framed, &bytes, &quick).await {
                            broke = true;
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(user = %caller.user, "bad frame: {e}");
                        let err = ServiceError::Protocol(format!(
                            "bad frame ({e}); frames are a 4-byte length and at most {MAX_FRAME} bytes of JSON"
                        ));
                        let _ = send_within(timeout, &mut framed, &ServerFrame::Reply { id: 0, result: Err(err) }).await;
                        broke = true;
                        break;
                    }
                }
            }
            n = notices.recv() => match n {
                Ok(n) => {
                    if send_within(timeout, &mut framed, &ServerFrame::Notice(n)).await.is_err() {
                        tracing::warn!(user = %caller.user, "a client that does not read: connection closed");
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                    tracing::warn!(user = %caller.user, "a slow client missed {k} notices");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    tracing::info!(user = %caller.user, "client disconnected");
    if service.disconnected(&caller.user) {
        let timeout = service.settings().claim_timeout;
        let who = caller.user.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let _ = tokio::task::spawn_blocking(move || service.release_if_gone(&who)).await;
        });
    }
    broke
}

/// Handles one request frame. False when the connection should close.
async fn answer(
    service: &Arc<Service>,
    caller: &Caller,
    framed: &mut Framed<UnixStream, ServerCodec>,
    bytes: &[u8],
    quick: &std::sync::mpsc::Sender<QuickJob>,
) -> bool {
    let frame: Result<ClientFrame, _> = serde_json::from_slice(bytes);
    let sender = match &frame {
        Ok(f) => Some((f.protocol, f.version.clone())),
        Err(_) => serde_json::from_slice::<Sender>(bytes)
            .ok()
            .map(|s| (s.protocol, s.version)),
    };
    if let Some(refusal) = sender.and_then(|(p, v)| other_protocol(p, &v)) {
        tracing::warn!(user = %caller.user, "a client of another protocol: {refusal}");
        let _ = send(
            framed,
            &ServerFrame::Reply {
                id: 0,
                result: Err(refusal),
            },
        )
        .await;
        return false;
    }
    let frame: ClientFrame = match frame {
        Ok(f) => f,
        Err(e) => {
            // serde's message may quote a value; say only where the frame broke.
            tracing::warn!(user = %caller.user, line = e.line(), column = e.column(), "malformed request");
            let err = ServiceError::Protocol(format!(
                "malformed request at line {} column {}: not a packline request",
                e.line(),
                e.column()
            ));
            let _ = send(
                framed,
                &ServerFrame::Reply {
                    id: 0,
                    result: Err(err),
                },
            )
            .await;
            return false;
        }
    };
    // Off the async threads: every request may wait on the store's locks. Quick ones queue for
    // their own worker; the rest (flushes, Amazon calls, long walks) use the blocking pool.
    let failed = |e: String| Err(ServiceError::Store(format!("request failed: {e}")));
    let result = if frame.request.is_quick() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if quick.send((caller.clone(), frame.request, tx)).is_err() {
            failed("the worker stopped".into())
        } else {
            rx.await.unwrap_or_else(|e| failed(e.to_string()))
        }
    } else {
        let svc = service.clone();
        let who = caller.clone();
        tokio::task::spawn_blocking(move || frame.request.run(&svc, &who))
            .await
            .unwrap_or_else(|e| failed(e.to_string()))
    };
    send_within(
        service.settings().frame_timeout,
        framed,
        &ServerFrame::Reply {
            id: frame.id,
            result,
        },
    )
    .await
    .is_ok()
}
