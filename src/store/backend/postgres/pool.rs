//! Connections to PostgreSQL: where the database is (`Target`), a small pool of connections, each
//! with the engine's statements prepared once, and the translation of PostgreSQL's errors into
//! the store's.
//!
//! tokio-postgres drives each connection as a task; those tasks run on a runtime of their own
//! (one thread, for the whole process), so that the store's calls stay synchronous and may be
//! made from anywhere, a daemon's async tasks included: a call sends its request to the
//! connection's task and blocks its own thread until the answer comes, as a sled call blocks on
//! the disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio_postgres::{Client, Statement};

use super::calls::{error, wait};
use crate::store::Error;

/// Where a store's PostgreSQL database is: a connection URL (`postgresql://…`, or PostgreSQL's
/// `key=value` form; a Unix socket is named by `host=/path/to/dir`), and a file of certificate
/// authorities for a server whose certificate no public authority signed. The URL may carry a
/// password: it is never shown (`Display` and `Debug` print it without one).
#[derive(Clone)]
pub struct Target {
    url: String,
    ca_file: Option<PathBuf>,
    /// The site whose trees these are, when not the first (`main`): its trees are named
    /// `site=NAME:tree` beside the others, and the account's trees stay `main`'s.
    site: Option<String>,
}

/// The site whose trees carry no prefix: the one every single-site database has.
pub const MAIN_SITE: &str = "main";

impl Target {
    pub fn new(url: impl Into<String>, ca_file: Option<PathBuf>) -> Target {
        Target {
            url: url.into(),
            ca_file,
            site: None,
        }
    }

    /// The same database, for the trees of `site` (`[site] name`).
    pub fn for_site(mut self, site: &str) -> Target {
        self.site = (site != MAIN_SITE).then(|| site.to_string());
        self
    }

    /// The site whose trees these are.
    pub fn site(&self) -> &str {
        self.site.as_deref().unwrap_or(MAIN_SITE)
    }

    /// Whether `other` is the same database (whatever site each names).
    pub fn same_database(&self, other: &Target) -> bool {
        self.url == other.url
    }

    pub(super) fn config(&self) -> Result<tokio_postgres::Config, Error> {
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|e| {
            Error::Database(format!(
                "the store's URL {self} cannot be read: {e} (see docs/postgres.md)"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("packline");
        }
        Ok(config)
    }

    /// The URL as it may be shown: any password replaced by `***`.
    pub fn shown(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut u) if u.scheme().starts_with("postgres") => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("***"));
                }
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "password" { "***".into() } else { v };
                        (k.into_owned(), v.into_owned())
                    })
                    .collect();
                if !pairs.is_empty() {
                    u.query_pairs_mut().clear().extend_pairs(pairs);
                }
                u.to_string()
            }
            // The key=value form: every word but the password's (which may be quoted, and hold
            // spaces).
            _ => {
                let mut shown = Vec::new();
                let mut quoted = false;
                for w in self.url.split_whitespace() {
                    if quoted {
                        quoted = !w.ends_with('\'') || w.ends_with("\\'");
                        continue;
                    }
                    match w.split_once('=') {
                        Some((k, v)) if k.trim() == "password" => {
                            shown.push("password=***".to_string());
                            quoted = v.starts_with('\'') && (v.len() == 1 || !v.ends_with('\''));
                        }
                        _ => shown.push(w.to_string()),
                    }
                }
                shown.join(" ")
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.shown())
    }
}

/// The runtime that drives every connection's task.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("packline-postgres")
            .enable_all()
            .build()
            .expect("a runtime for the database's connections")
    })
}

/// The channel on which processes announce changes to each other (`LISTEN`/`NOTIFY`).
pub(super) const CHANGES: &str = "packline_changed";

/// This process's name in its announcements, so that it does not hear its own.
pub(super) fn process_tag() -> String {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        use rand::Rng;
        format!(
            "{}:{:016x}",
            std::process::id(),
            rand::thread_rng().r#gen::<u64>()
        )
    })
    .clone()
}

/// Listens on `CHANGES` on a connection of its own, calling `changed` for each announcement
/// another process makes; connects again (after a pause) when the connection is lost.
async fn listen_on<T>(
    config: tokio_postgres::Config,
    tls: T,
    changed: &Arc<dyn Fn() + Send + Sync>,
) -> Result<(), tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    use futures_util::StreamExt;
    let (client, mut connection) = config.connect(tls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                let _ = tx.send(n.payload().to_string());
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANGES}")).await?;
    let me = process_tag();
    while let Some(from) = rx.recv().await {
        if from != me {
            changed();
        }
    }
    Ok(())
}

/// The engine's statements, prepared on each connection when it opens.
pub(super) struct Statements {
    pub get: Statement,
    pub get_many: Statement,
    pub insert: Statement,
    pub remove: Statement,
    pub put: Statement,
    pub delete: Statement,
    pub cas_create: Statement,
    pub cas_update: Statement,
    pub cas_delete: Statement,
    pub count: Statement,
    pub clear: Statement,
    pub scan_up: Statement,
    pub scan_up_open: Statement,
    pub scan_down: Statement,
    pub scan_down_open: Statement,
    pub put_many: Statement,
    pub first_keys: Statement,
    pub remove_many: Statement,
}

const KV: &str = "packline.kv";

/// A condition that always holds and sets `synchronous_commit` off until the end of the
/// statement's transaction: a statement alone is its own transaction, so its commit is written
/// without waiting for the disk (PostgreSQL's WAL writer has it on disk within three
/// `wal_writer_delay`s, 0.6 s by default).
const UNFLUSHED: &str = "set_config('synchronous_commit', 'off', true) = 'off'";

async fn prepare(c: &Client) -> Result<Statements, tokio_postgres::Error> {
    let p = |sql: String| async move { c.prepare(&sql).await };
    Ok(Statements {
        get: p(format!("SELECT v FROM {KV} WHERE tree = $1 AND k = $2")).await?,
        get_many: p(format!(
            "SELECT k, v FROM {KV} WHERE tree = $1 AND k = ANY($2::bytea[])"
        ))
        .await?,
        // The value replaced, read in the statement's own snapshot.
        insert: p(format!(
            "WITH old AS (SELECT v FROM {KV} WHERE tree = $1 AND k = $2), \
             new AS (INSERT INTO {KV} (tree, k, v) VALUES ($1, $2, $3) \
                     ON CONFLICT (tree, k) DO UPDATE SET v = EXCLUDED.v) \
             SELECT v FROM old"
        ))
        .await?,
        put: p(format!(
            "INSERT INTO {KV} (tree, k, v) VALUES ($1, $2, $3) \
             ON CONFLICT (tree, k) DO UPDATE SET v = EXCLUDED.v"
        ))
        .await?,
        delete: p(format!("DELETE FROM {KV} WHERE tree = $1 AND k = $2")).await?,
        remove: p(format!(
            "DELETE FROM {KV} WHERE tree = $1 AND k = $2 RETURNING v"
        ))
        .await?,
        // A compare-and-swap commits without waiting for the disk (`Pool::flush` makes it
        // durable): a row is written only where every condition held, `unflushed` among them, so
        // a statement that writes has set `synchronous_commit` off for its own transaction.
        cas_create: p(format!(
            "INSERT INTO {KV} (tree, k, v) SELECT $1, $2, $3 WHERE {UNFLUSHED} \
             ON CONFLICT (tree, k) DO NOTHING"
        ))
        .await?,
        cas_update: p(format!(
            "UPDATE {KV} SET v = $4 WHERE tree = $1 AND k = $2 AND v = $3 AND {UNFLUSHED}"
        ))
        .await?,
        cas_delete: p(format!(
            "DELETE FROM {KV} WHERE tree = $1 AND k = $2 AND v = $3 AND {UNFLUSHED}"
        ))
        .await?,
        count: p(format!("SELECT count(*) FROM {KV} WHERE tree = $1")).await?,
        clear: p(format!("DELETE FROM {KV} WHERE tree = $1")).await?,
        scan_up: p(format!(
            "SELECT k, v FROM {KV} WHERE tree = $1 AND k >= $2 AND k < $3 ORDER BY k LIMIT $4"
        ))
        .await?,
        scan_up_open: p(format!(
            "SELECT k, v FROM {KV} WHERE tree = $1 AND k >= $2 ORDER BY k LIMIT $3"
        ))
        .await?,
        scan_down: p(format!(
            "SELECT k, v FROM {KV} WHERE tree = $1 AND k >= $2 AND k < $3 ORDER BY k DESC LIMIT $4"
        ))
        .await?,
        scan_down_open: p(format!(
            "SELECT k, v FROM {KV} WHERE tree = $1 AND k >= $2 ORDER BY k DESC LIMIT $3"
        ))
        .await?,
        // The first $3 keys from each lo (included) to its hi (excluded), with the pair's place.
        first_keys: p(format!(
            "SELECT p.i, kv.k FROM unnest($2::bytea[], $4::bytea[]) WITH ORDINALITY AS p(lo, hi, i) \
             CROSS JOIN LATERAL (SELECT k FROM {KV} WHERE tree = $1 AND k >= p.lo AND k < p.hi \
                                 ORDER BY k LIMIT $3) AS kv \
             ORDER BY p.i, kv.k"
        ))
        .await?,
        put_many: p(format!(
            "INSERT INTO {KV} (tree, k, v) SELECT $1, k, v FROM unnest($2::bytea[], $3::bytea[]) AS t(k, v) \
             ON CONFLICT (tree, k) DO UPDATE SET v = EXCLUDED.v"
        ))
        .await?,
        remove_many: p(format!(
            "DELETE FROM {KV} WHERE tree = $1 AND k = ANY($2::bytea[])"
        ))
        .await?,
    })
}

/// One open connection and its statements.
pub(super) struct Conn {
    pub client: Client,
    pub st: Statements,
    /// A transaction is open on it: a connection given back so (its user panicked) is closed,
    /// never handed to the next user with that transaction still open.
    pub in_tx: std::sync::atomic::AtomicBool,
}

/// The connections of one database, kept open between calls.
pub(super) struct Pool {
    target: Target,
    idle: Mutex<Vec<Conn>>,
    /// A write committed without waiting for the disk was made since the last flush.
    unflushed: AtomicBool,
}

/// Connections kept open while no call uses them; more are opened when calls overlap. Twice
/// the most quick requests a daemon runs at once (`Location::parallel_requests`, at most 16), so
/// that the threads beside them (an announcement, a count) never make a busy floor open and
/// close connections, each opening a few milliseconds of round trips.
const IDLE: usize = 32;

impl Pool {
    pub fn new(target: Target) -> Pool {
        Pool {
            target,
            idle: Mutex::new(Vec::new()),
            unflushed: AtomicBool::new(false),
        }
    }

    /// A write committed without waiting for the disk was made.
    pub fn wrote_unflushed(&self) {
        self.unflushed.store(true, Ordering::Release);
    }

    /// Whether a write committed without waiting for the disk awaits a flush.
    pub fn awaits_flush(&self) -> bool {
        self.unflushed.load(Ordering::Acquire)
    }

    /// Makes every write this process committed durable: a commit that waits for the disk
    /// writes the WAL up to it, and so every commit before it. Nothing is sent when every
    /// write since the last flush was durable already.
    pub fn flush(self: &Arc<Self>) -> Result<(), Error> {
        if !self.awaits_flush() {
            return Ok(());
        }
        let c = self.get()?;
        if !self.unflushed.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        // A commit waits for the disk only when its transaction wrote something: the layout's
        // one row, written unchanged (a flush at another daemon at once waits for the row's
        // lock, and is not refused as a serializable transaction would be).
        let r = wait(c.client.batch_execute(
            "BEGIN ISOLATION LEVEL READ COMMITTED; \
             UPDATE packline.layout SET version = version; COMMIT",
        ))
        .map_err(error);
        if r.is_err() {
            // Never a connection handed on inside a failed transaction.
            let _ = wait(c.client.batch_execute("ROLLBACK"));
            self.unflushed.store(true, Ordering::Release);
        }
        r
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// A connection for one call or one transaction, back in the pool when dropped.
    pub fn get(self: &Arc<Self>) -> Result<Pooled, Error> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(c) if !c.client.is_closed() => c,
            _ => self.open()?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.clone(),
        })
    }

    fn open(&self) -> Result<Conn, Error> {
        let config = self.target.config()?;
        let tls = self.tls()?;
        let shown = self.target.shown();
        let task = runtime().spawn(async move {
            let client = match tls {
                None => {
                    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                    tokio::spawn(connection);
                    client
                }
                Some(tls) => {
                    let (client, connection) = config.connect(tls).await?;
                    tokio::spawn(connection);
                    client
                }
            };
            // Every statement, in a transaction or alone, is serializable: the store's
            // transactions are run again on a conflict, as on the embedded engine.
            client
                .batch_execute(
                    "SET default_transaction_isolation TO serializable; SET search_path TO packline, public",
                )
                .await?;
            Ok::<_, tokio_postgres::Error>(client)
        });
        let client = wait(task)
            .map_err(|e| Error::Database(format!("connecting to {shown}: {e}")))?
            .map_err(|e| match e.as_db_error() {
                Some(_) => error(e),
                None => Error::Database(format!(
                    "cannot connect to {shown}: {}{}",
                    with_causes(&e),
                    if is_certificate(&e) {
                        " (the server's certificate is not one a public authority or [store] \
                         ca_file vouches for: set ca_file to its authority's PEM file)"
                    } else {
                        ""
                    }
                )),
            })?;
        // The schema must exist before statements over it are prepared.
        super::schema::ensure(&client)?;
        let st = wait(prepare(&client)).map_err(error)?;
        Ok(Conn {
            client,
            st,
            in_tx: Default::default(),
        })
    }

    /// Calls `changed` for every change another process announces, for as long as this
    /// process runs.
    pub fn listen(&self, changed: Arc<dyn Fn() + Send + Sync>) -> Result<(), Error> {
        let config = self.target.config()?;
        let tls = self.tls()?;
        let shown = self.target.shown();
        runtime().spawn(async move {
            loop {
                let r = match tls.clone() {
                    None => listen_on(config.clone(), tokio_postgres::NoTls, &changed).await,
                    Some(tls) => listen_on(config.clone(), tls, &changed).await,
                };
                if let Err(e) = r {
                    tracing::warn!("listening for other processes' changes at {shown}: {e}");
                }
                // Changes made meanwhile are not heard: say something changed, then listen
                // again.
                changed();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Ok(())
    }

    fn tls(&self) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, Error> {
        let config = self.target.config()?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
            return Ok(None);
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(file) = &self.target.ca_file {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let certs = CertificateDer::pem_file_iter(file).map_err(|e| {
                Error::Database(format!(
                    "the store's CA file {} cannot be read: {e}",
                    file.display()
                ))
            })?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    Error::Database(format!(
                        "the store's CA file {} holds a certificate that cannot be read: {e}",
                        file.display()
                    ))
                })?;
                roots.add(cert).map_err(|e| {
                    Error::Database(format!(
                        "the store's CA file {} holds a certificate rustls refuses: {e}",
                        file.display()
                    ))
                })?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Database(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }
}

/// A connection taken from the pool.
pub(super) struct Pooled {
    conn: Option<Conn>,
    pool: Arc<Pool>,
}

impl std::ops::Deref for Pooled {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a pooled connection until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take()
            && !c.client.is_closed()
            && !c.in_tx.load(std::sync::atomic::Ordering::Acquire)
        {
            let mut idle = self
                .pool
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < IDLE {
                idle.push(c);
            }
        }
    }
}

/// An error and what caused it, as one line (`tokio_postgres` says only "error performing TLS
/// handshake"; rustls below it says why).
fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = c.to_string();
        if !line.contains(&said) {
            line.push_str(": ");
            line.push_str(&said);
        }
        cause = c.source();
    }
    line
}

/// Whether TLS refused the server's certificate somewhere under `e`.
fn is_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>()
            && matches!(tls, rustls::Error::InvalidCertificate(_))
        {
            return true;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .is_some_and(|t| matches!(t, rustls::Error::InvalidCertificate(_)))
        {
            return true;
        }
        cause = c.source();
    }
    false
}
