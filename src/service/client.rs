//! A client of the service, on either transport: in-process (the service lives in this process)
//! or the daemon's Unix socket. Callers see the same operations, typed answers and notices.
//! A client is cheap to clone, and every clone may have a request in flight at once (the TUI
//! sends one and goes on drawing); notices go to whichever clone asks for them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::codec::FramedWrite;

use super::ops::{Answer, Operation};
use super::server::{ClientFrame, ServerFrame, codec};
use super::{Caller, Notice, Service, ServiceError};

/// Replies awaited on a socket, and why the connection ended once it has.
#[derive(Default)]
struct Routes {
    waiting: HashMap<u64, oneshot::Sender<Result<Answer, ServiceError>>>,
    closed: Option<ServiceError>,
}

impl Routes {
    /// The connection is over: every waiter, and every later caller, hears why.
    fn close(&mut self, why: ServiceError) {
        for (_, w) in self.waiting.drain() {
            let _ = w.send(Err(why.clone()));
        }
        self.closed.get_or_insert(why);
    }
}

type Pending = Arc<Mutex<Routes>>;

enum Transport {
    Local {
        service: Arc<Service>,
        caller: Caller,
    },
    Socket {
        writer: tokio::sync::Mutex<
            FramedWrite<tokio::net::unix::OwnedWriteHalf, tokio_util::codec::LengthDelimitedCodec>,
        >,
        pending: Pending,
        next_id: std::sync::atomic::AtomicU64,
    },
}

enum Notices {
    Local(broadcast::Receiver<Notice>),
    Socket(mpsc::UnboundedReceiver<Notice>),
}

#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
    notices: Arc<tokio::sync::Mutex<Notices>>,
}

fn gone() -> ServiceError {
    ServiceError::Protocol("the packline daemon closed the connection".into())
}

impl Client {
    /// The service in this process, for `user`.
    pub fn local(service: Arc<Service>, user: &str) -> Result<Client, ServiceError> {
        let caller = service.caller(user)?;
        let notices = service.subscribe();
        Ok(Client {
            transport: Arc::new(Transport::Local { service, caller }),
            notices: Arc::new(tokio::sync::Mutex::new(Notices::Local(notices))),
        })
    }

    /// Connects to a running daemon.
    pub async fn connect(socket: &Path) -> std::io::Result<Client> {
        let stream = UnixStream::connect(socket).await?;
        let (read, write) = stream.into_split();
        let pending: Pending = Arc::default();
        let (tx, notices) = mpsc::unbounded_channel();
        let mut reader = tokio_util::codec::FramedRead::new(read, codec());
        let routes = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(bytes)) = reader.next().await {
                match serde_json::from_slice::<ServerFrame>(&bytes) {
                    Ok(ServerFrame::Reply { id, result }) => {
                        let mut r = routes.lock().unwrap_or_else(|p| p.into_inner());
                        match (r.waiting.remove(&id), result) {
                            (Some(w), result) => {
                                let _ = w.send(result);
                            }
                            // id 0: the daemon refused the connection or a frame, and closes.
                            (None, Err(e)) => {
                                r.close(e.clone());
                                let _ = tx.send(Notice::Closed {
                                    reason: e.to_string(),
                                });
                            }
                            (None, Ok(_)) => {}
                        }
                    }
                    Ok(ServerFrame::Notice(n)) => {
                        let _ = tx.send(n);
                    }
                    Err(e) => {
                        tracing::warn!("unreadable frame from the daemon: {e}");
                        break;
                    }
                }
            }
            routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .close(gone());
        });
        Ok(Client {
            transport: Arc::new(Transport::Socket {
                writer: tokio::sync::Mutex::new(FramedWrite::new(write, codec())),
                pending,
                next_id: 1.into(),
            }),
            notices: Arc::new(tokio::sync::Mutex::new(Notices::Socket(notices))),
        })
    }

    /// Sends one operation and waits for its answer.
    pub async fn call<O: Operation>(&self, op: O) -> Result<O::Answer, ServiceError> {
        match &*self.transport {
            Transport::Local { service, caller } => {
                let (svc, who) = (service.clone(), caller.clone());
                tokio::task::spawn_blocking(move || svc.run(&who, op))
                    .await
                    .unwrap_or_else(|e| Err(ServiceError::Store(format!("request failed: {e}"))))
            }
            Transport::Socket {
                writer,
                pending,
                next_id,
            } => {
                let id = next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (tx, rx) = oneshot::channel();
                {
                    let mut r = pending.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(why) = &r.closed {
                        return Err(why.clone());
                    }
                    r.waiting.insert(id, tx);
                }
                let frame = ClientFrame::new(id, op.into());
                let forget = || {
                    pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .waiting
                        .remove(&id);
                };
                let bytes = match serde_json::to_vec(&frame) {
                    Ok(b) => b,
                    Err(e) => {
                        forget();
                        return Err(ServiceError::Protocol(e.to_string()));
                    }
                };
                drop(frame);
                // A frame the daemon would refuse is never sent: no reply would ever come.
                if bytes.len() > super::server::MAX_FRAME {
                    forget();
                    return Err(ServiceError::Invalid(format!(
                        "this request ({}) is {:.1} MiB, and the daemon takes at most {} MiB in one request: send less at a time (a smaller page, a shorter note or report)",
                        O::NAME,
                        bytes.len() as f64 / (1 << 20) as f64,
                        super::server::MAX_FRAME >> 20
                    )));
                }
                let sent = writer.lock().await.send(bytes::Bytes::from(bytes)).await;
                if let Err(e) = sent {
                    // The daemon may have said why before it closed; a connection that is still
                    // open after a failed write will not answer this request.
                    return Err(
                        match tokio::time::timeout(std::time::Duration::from_secs(2), rx).await {
                            Ok(Ok(Err(why))) => why,
                            _ => {
                                forget();
                                ServiceError::Protocol(format!(
                                    "the request could not be sent to the daemon: {e}"
                                ))
                            }
                        },
                    );
                }
                let answer = rx.await.map_err(|_| gone())??;
                serde_json::from_str(answer.get()).map_err(|e| {
                    ServiceError::Protocol(format!(
                        "the daemon's answer to {} is not what this version expects (line {} column {}): run the same packline version on both sides",
                        O::NAME,
                        e.line(),
                        e.column()
                    ))
                })
            }
        }
    }

    /// The next notice; `None` once the service is gone.
    pub async fn notice(&self) -> Option<Notice> {
        match &mut *self.notices.lock().await {
            Notices::Local(notices) => loop {
                match notices.recv().await {
                    Ok(n) => return Some(n),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            },
            Notices::Socket(notices) => notices.recv().await,
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(*self.transport, Transport::Local { .. })
    }

    /// The service itself, when it runs in this process (the CLI checkpoints it after a bulk
    /// import before the process ends).
    pub fn local_service(&self) -> Option<&Arc<Service>> {
        match &*self.transport {
            Transport::Local { service, .. } => Some(service),
            Transport::Socket { .. } => None,
        }
    }
}
