//! A private PostgreSQL cluster for tests and benchmarks: made with `initdb` in a directory of
//! its own, served by `postgres` on a Unix socket in that directory only (no TCP), and stopped
//! when its owner drops it or, for the one a process shares (`shared`), when the process ends —
//! the server is told to quit when the thread that started it is gone, so a test run that is
//! killed leaves no server behind. Never a shared, long-lived one.
//!
//! As root, the cluster belongs to the `postgres` user (PostgreSQL refuses to run as root).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Target;

/// A running private cluster.
pub struct Cluster {
    dir: PathBuf,
    stop: Option<mpsc::Sender<()>>,
    keeper: Option<std::thread::JoinHandle<()>>,
    /// The TCP port it also listens on with TLS (`start_tls`), on 127.0.0.1.
    tls_port: Option<u16>,
}

/// How a cluster runs.
#[derive(Clone, Copy)]
struct Options {
    durable: bool,
    tls: Option<u16>,
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The cluster this process's tests share, started by the first that asks.
pub fn shared() -> Result<&'static Cluster, String> {
    static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
    SHARED
        .get_or_init(Cluster::start)
        .as_ref()
        .map_err(Clone::clone)
}

/// Where PostgreSQL's programs are: `PACKLINE_PG_BIN`, else Debian's newest
/// `/usr/lib/postgresql/N/bin`, else the `PATH`.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("PACKLINE_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("postgres").exists() && d.join("initdb").exists())
    })
}

/// The user the cluster runs as: ourselves, or `postgres` when we are root.
fn owner() -> Result<Option<(u32, u32)>, String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(u)) => Ok(Some((u.uid.as_raw(), u.gid.as_raw()))),
        _ => Err(
            "running as root, a test cluster needs the `postgres` user (installed with \
             PostgreSQL: apt-get install --no-install-recommends postgresql)"
                .into(),
        ),
    }
}

fn as_owner(cmd: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        // (std drops root's supplementary groups with it.)
        cmd.uid(uid).gid(gid);
    }
}

/// Clusters left by processes that were killed before they could remove theirs.
fn sweep() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("packline-pg-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Cluster {
    /// A new cluster, running; stopped and removed when dropped. It skips durability (a
    /// test's data is thrown away): see `start_durable` for figures worth quoting.
    pub fn start() -> Result<Cluster, String> {
        Cluster::start_with(Options {
            durable: false,
            tls: None,
        })
    }

    /// A new cluster that also listens on 127.0.0.1 over TLS alone (a certificate made for
    /// it, whose authority is [`Cluster::ca_file`]; a plain TCP connection is rejected).
    pub fn start_tls() -> Result<Cluster, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("a free port: {e}"))?
            .port();
        Cluster::start_with(Options {
            durable: false,
            tls: Some(port),
        })
    }

    /// The TCP port of a TLS cluster.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The authority that signed a TLS cluster's certificate (made for it).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.crt")
    }

    /// A new cluster that makes every commit durable, as a production server does (for
    /// benchmarks).
    pub fn start_durable() -> Result<Cluster, String> {
        Cluster::start_with(Options {
            durable: true,
            tls: None,
        })
    }

    fn start_with(options: Options) -> Result<Cluster, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL is not installed (no postgres and initdb found in /usr/lib/postgresql/*/bin, \
             PACKLINE_PG_BIN or PATH): scripts/test installs it with apt-get",
        )?;
        sweep();
        static CLUSTERS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "packline-pg-{}-{}",
            std::process::id(),
            CLUSTERS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let owner = owner()?;
        if let Some((uid, gid)) = owner {
            nix::unistd::chown(&dir, Some(uid.into()), Some(gid.into()))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let data = dir.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["-D"])
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdin(Stdio::null());
        as_owner(&mut initdb, owner);
        let out = initdb
            .output()
            .map_err(|e| format!("{}: {e}", bin.join("initdb").display()))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        if options.tls.is_some() {
            tls_files(&dir, &data, owner)?;
        }
        // The server is started, watched and stopped by a thread of its own: the server quits
        // when that thread ends, which is when the cluster is dropped or the process ends.
        let (started_tx, started_rx) = mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (sock, log) = (dir.clone(), dir.join("server.log"));
        let postgres = bin.join("postgres");
        let keeper = std::thread::Builder::new()
            .name("packline-test-postgres".into())
            .spawn(move || {
                let child = serve(&postgres, &data, &sock, &log, owner, options);
                let mut child = match child {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(()));
                // Until told to stop (or the cluster is gone).
                let _ = stop_rx.recv();
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGQUIT,
                );
                let _ = child.wait();
            })
            .map_err(|e| e.to_string())?;
        started_rx
            .recv()
            .map_err(|_| "the test cluster's keeper ended".to_string())??;
        let cluster = Cluster {
            dir,
            stop: Some(stop_tx),
            keeper: Some(keeper),
            tls_port: options.tls,
        };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// The cluster's own files (tables, WAL), as PostgreSQL keeps them.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Everything written so far put in the cluster's files (`CHECKPOINT`).
    pub fn checkpoint(&self) -> Result<(), String> {
        self.psql("postgres", "CHECKPOINT").map(|_| ())
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A connection URL to database `db` as the cluster's superuser.
    pub fn url(&self, db: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={db} sslmode=disable",
            self.dir.display(),
            self.port()
        )
    }

    /// The port its Unix socket is named by.
    fn port(&self) -> u16 {
        self.tls_port.unwrap_or(5432)
    }

    /// A new, empty database of its own, for one test.
    pub fn fresh_database(&self) -> Result<Target, String> {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.create_database(&name)?;
        Ok(Target::new(self.url(&name), None))
    }

    /// Creates database `name` (`CREATE DATABASE`), empty.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .map(|_| ())
    }

    /// Runs `sql` in database `db` with psql; what it printed.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let bin = bin_dir().ok_or("PostgreSQL is not installed")?;
        let psql = match bin.join("psql") {
            p if p.exists() => p,
            _ => PathBuf::from("psql"),
        };
        let out = Command::new(psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port().to_string())
            .args(["-U", "postgres", "-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Database `db` as `pg_dump` writes it (plain SQL).
    pub fn dump(&self, db: &str) -> Result<String, String> {
        let bin = bin_dir().ok_or("PostgreSQL is not installed")?;
        let out = Command::new(bin.join("pg_dump"))
            .arg("-h")
            .arg(&self.dir)
            .arg("-p")
            .arg(self.port().to_string())
            .args(["-U", "postgres", "-d", db])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_dump: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.psql("postgres", "SELECT 1") {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    let log =
                        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
                    return Err(format!(
                        "the test cluster did not start: {e}\n{}",
                        log.trim()
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// A certificate for 127.0.0.1 and localhost, signed by an authority made for it (openssl), its
/// key readable by the server's user alone; and a pg_hba.conf that takes TCP connections over TLS only.
fn tls_files(dir: &Path, data: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| format!("{}: {e}", tls.display()))?;
    // An authority of its own, and the server's certificate signed by it (a certificate
    // that is its own authority is refused by webpki as an end entity).
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&tls)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("openssl (scripts/test installs it): {e}"))?;
        match out.status.success() {
            true => Ok(()),
            false => Err(format!(
                "openssl {}: {}",
                args[0],
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    };
    std::fs::write(
        tls.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(|e| format!("{}: {e}", tls.display()))?;
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=packline test authority",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ])?;
    let key = tls.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", key.display()))?;
    if let Some((uid, gid)) = owner {
        for f in [&tls, &key, &tls.join("server.crt")] {
            nix::unistd::chown(f.as_path(), Some(uid.into()), Some(gid.into()))
                .map_err(|e| format!("{}: {e}", f.display()))?;
        }
    }
    let hba = data.join("pg_hba.conf");
    std::fs::write(
        &hba,
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n",
    )
    .map_err(|e| format!("{}: {e}", hba.display()))?;
    if let Some((uid, gid)) = owner {
        nix::unistd::chown(&hba, Some(uid.into()), Some(gid.into()))
            .map_err(|e| format!("{}: {e}", hba.display()))?;
    }
    Ok(())
}

/// Starts the server of the cluster in `data`, listening on a Unix socket in `sock` only.
fn serve(
    postgres: &Path,
    data: &Path,
    sock: &Path,
    log: &Path,
    owner: Option<(u32, u32)>,
    options: Options,
) -> Result<Child, String> {
    // Opened here and handed over: the server writes to it as whoever it runs as.
    let log = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(postgres);
    cmd.arg("-D")
        .arg(data)
        .arg("-k")
        .arg(sock)
        .args(["-c", "listen_addresses="]);
    if let Some(port) = options.tls {
        // The Unix socket keeps its usual name; TCP on this port, TLS only (pg_hba.conf).
        let tls = data.parent().unwrap_or(data).join("tls");
        cmd.args(["-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("port={port}"))
            .args(["-c", "ssl=on", "-c"])
            .arg(format!(
                "ssl_cert_file={}",
                tls.join("server.crt").display()
            ))
            .arg("-c")
            .arg(format!("ssl_key_file={}", tls.join("server.key").display()));
    }
    if !options.durable {
        // A test's data is thrown away: durability would only cost time.
        cmd.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    cmd.args([
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=128MB",
        "-c",
        "max_pred_locks_per_transaction=256",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(log);
    as_owner(&mut cmd, owner);
    unsafe {
        cmd.pre_exec(|| {
            // Quit (immediately) when the keeper thread, or the whole process, is gone.
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGQUIT)
                .map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| format!("{}: {e}", postgres.display()))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(k) = self.keeper.take() {
            let _ = k.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
