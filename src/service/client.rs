//! A client of the service, on either transport: in-process (the service lives in this process)
//! or the daemon's Unix socket. Callers see the same requests, replies and notices.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::codec::FramedWrite;

use super::server::{ClientFrame, ServerFrame, codec};
use super::{Caller, Notice, Reply, Request, Service, ServiceError};

/// Replies awaited on a socket, and why the connection ended once it has.
#[derive(Default)]
struct Routes {
    waiting: HashMap<u64, oneshot::Sender<Result<Reply, ServiceError>>>,
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
        notices: broadcast::Receiver<Notice>,
    },
    Socket {
        writer:
            FramedWrite<tokio::net::unix::OwnedWriteHalf, tokio_util::codec::LengthDelimitedCodec>,
        pending: Pending,
        notices: mpsc::UnboundedReceiver<Notice>,
        next_id: u64,
    },
}

pub struct Client {
    transport: Transport,
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
            transport: Transport::Local {
                service,
                caller,
                notices,
            },
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
            transport: Transport::Socket {
                writer: FramedWrite::new(write, codec()),
                pending,
                notices,
                next_id: 1,
            },
        })
    }

    /// Sends a request and waits for its reply.
    pub async fn call(&mut self, request: Request) -> Result<Reply, ServiceError> {
        match &mut self.transport {
            Transport::Local {
                service, caller, ..
            } => {
                let (svc, who) = (service.clone(), caller.clone());
                tokio::task::spawn_blocking(move || svc.handle(&who, request))
                    .await
                    .unwrap_or_else(|e| Err(ServiceError::Store(format!("request failed: {e}"))))
            }
            Transport::Socket {
                writer,
                pending,
                next_id,
                ..
            } => {
                let id = *next_id;
                *next_id += 1;
                let (tx, rx) = oneshot::channel();
                {
                    let mut r = pending.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(why) = &r.closed {
                        return Err(why.clone());
                    }
                    r.waiting.insert(id, tx);
                }
                let bytes = serde_json::to_vec(&ClientFrame { id, request })
                    .map_err(|e| ServiceError::Protocol(e.to_string()))?;
                if writer.send(bytes::Bytes::from(bytes)).await.is_err() {
                    // The daemon may have said why before it closed.
                    return Err(rx
                        .await
                        .unwrap_or_else(|_| Err(gone()))
                        .err()
                        .unwrap_or_else(gone));
                }
                rx.await.map_err(|_| gone())?
            }
        }
    }

    /// The next notice; `None` once the service is gone.
    pub async fn notice(&mut self) -> Option<Notice> {
        match &mut self.transport {
            Transport::Local { notices, .. } => loop {
                match notices.recv().await {
                    Ok(n) => return Some(n),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            },
            Transport::Socket { notices, .. } => notices.recv().await,
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self.transport, Transport::Local { .. })
    }
}
