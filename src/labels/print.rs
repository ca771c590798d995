//! Printers by URI: `socket://host:9100` (raw, as Zebra printers take ZPL), `ipp://host:port/path`
//! (an IPP/1.1 Print-Job with the document's format), `cups:QUEUE` (handed to `lp`), and
//! `file:/dir` (one file per job, mode 0600, for a user who chose to keep them).
//!
//! A job's bytes go to the printer and nowhere else: no temp file, no log of the contents.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// What a document is, for the printer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocFormat {
    Zpl,
    Pdf,
    Png,
}

impl DocFormat {
    pub fn mime(self) -> &'static str {
        match self {
            // ZPL has no registered type; printers that take it over IPP take it as raw bytes.
            DocFormat::Zpl => "application/octet-stream",
            DocFormat::Pdf => "application/pdf",
            DocFormat::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            DocFormat::Zpl => "zpl",
            DocFormat::Pdf => "pdf",
            DocFormat::Png => "png",
        }
    }
}

/// A printer, parsed from its URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Printer {
    Socket { host: String, port: u16 },
    Ipp { url: url::Url },
    Cups { queue: String },
    File { dir: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(
        "printer {0:?}: not a printer URI; use socket://HOST:9100, ipp://HOST:PORT/PATH, cups:QUEUE or file:/DIR"
    )]
    BadUri(String),
    #[error("printer {printer}: {detail}")]
    Failed {
        printer: String,
        detail: String,
        /// Some of the job may have reached the printer: sending it again could print twice.
        maybe_sent: bool,
    },
}

impl PrintError {
    pub fn maybe_sent(&self) -> bool {
        matches!(
            self,
            PrintError::Failed {
                maybe_sent: true,
                ..
            }
        )
    }
}

impl Printer {
    pub fn parse(uri: &str) -> Result<Printer, PrintError> {
        let bad = || PrintError::BadUri(uri.to_owned());
        if let Some(q) = uri.strip_prefix("cups:") {
            let ok = !q.is_empty()
                && q.len() <= 127
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
            return if ok {
                Ok(Printer::Cups {
                    queue: q.to_owned(),
                })
            } else {
                Err(bad())
            };
        }
        if let Some(d) = uri.strip_prefix("file:") {
            let d = d.strip_prefix("//").unwrap_or(d);
            if !d.starts_with('/') {
                return Err(bad());
            }
            return Ok(Printer::File {
                dir: PathBuf::from(d),
            });
        }
        let url = url::Url::parse(uri).map_err(|_| bad())?;
        match url.scheme() {
            "socket" => Ok(Printer::Socket {
                host: url.host_str().ok_or_else(bad)?.to_owned(),
                port: url.port().unwrap_or(9100),
            }),
            "ipp" => {
                url.host_str().ok_or_else(bad)?;
                Ok(Printer::Ipp { url })
            }
            _ => Err(bad()),
        }
    }

    /// The URI without anything but scheme, host, port and path, for messages and logs.
    pub fn describe(&self) -> String {
        match self {
            Printer::Socket { host, port } => format!("socket://{host}:{port}"),
            Printer::Ipp { url } => format!(
                "ipp://{}:{}{}",
                url.host_str().unwrap_or_default(),
                url.port().unwrap_or(631),
                url.path()
            ),
            Printer::Cups { queue } => format!("cups:{queue}"),
            Printer::File { dir } => format!("file:{}", dir.display()),
        }
    }

    /// Sends one job. `name` names the job (an order id and what it is; never personal data).
    pub async fn send(&self, name: &str, format: DocFormat, doc: &[u8]) -> Result<(), PrintError> {
        let fail = |detail: String| PrintError::Failed {
            printer: self.describe(),
            detail,
            maybe_sent: false,
        };
        let fail_sent = |detail: String| PrintError::Failed {
            printer: self.describe(),
            detail,
            maybe_sent: true,
        };
        match self {
            Printer::Socket { host, port } => {
                use tokio::io::AsyncWriteExt;
                let connect = tokio::net::TcpStream::connect((host.as_str(), *port));
                let mut s = tokio::time::timeout(Duration::from_secs(10), connect)
                    .await
                    .map_err(|_| fail("no answer within 10 s".into()))?
                    .map_err(|e| fail(format!("cannot connect: {e}")))?;
                let write = async {
                    s.write_all(doc).await?;
                    s.flush().await?;
                    s.shutdown().await
                };
                tokio::time::timeout(Duration::from_secs(30), write)
                    .await
                    .map_err(|_| fail_sent("the printer stopped taking data for 30 s".into()))?
                    .map_err(|e| fail_sent(format!("sending the job: {e}")))
            }
            Printer::Ipp { url } => ipp_print_job(url, name, format, doc)
                .await
                .map_err(|(sent, e)| if sent { fail_sent(e) } else { fail(e) }),
            Printer::Cups { queue } => {
                let queue = queue.clone();
                let doc = doc.to_vec();
                let name = name.to_owned();
                tokio::task::spawn_blocking(move || lp(&queue, &name, format, &doc))
                    .await
                    .map_err(|e| fail_sent(e.to_string()))?
                    .map_err(fail_sent)
            }
            Printer::File { dir } => {
                let path = dir.join(format!(
                    "{}-{}.{}",
                    name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
                    format.extension()
                ));
                let doc = doc.to_vec();
                let shown = path.display().to_string();
                tokio::task::spawn_blocking(move || write_private(&path, &doc))
                    .await
                    .map_err(|e| fail(e.to_string()))?
                    .map_err(|e| fail(format!("{shown}: {e}")))
            }
        }
    }
}

fn write_private(path: &std::path::Path, doc: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(doc)?;
    f.sync_all()
}

/// `lp -d QUEUE`, the job on standard input (raw for ZPL, so CUPS passes it untouched).
fn lp(queue: &str, name: &str, format: DocFormat, doc: &[u8]) -> Result<(), String> {
    let mut cmd = std::process::Command::new("lp");
    cmd.args(["-d", queue, "-t", name]);
    if format == DocFormat::Zpl {
        cmd.args(["-o", "raw"]);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run lp: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("lp has no standard input")?
        .write_all(doc)
        .map_err(|e| format!("writing to lp: {e}"))?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "lp failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Encodes an IPP/1.1 Print-Job request (RFC 8010/8011): the operation attributes, then the
/// document.
pub fn ipp_request(
    printer_uri: &str,
    user: &str,
    name: &str,
    format: DocFormat,
    doc: &[u8],
) -> Vec<u8> {
    fn attr(out: &mut Vec<u8>, tag: u8, name: &str, value: &str) {
        out.push(tag);
        out.extend_from_slice(&(name.len() as u16).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    let mut out = Vec::with_capacity(256 + doc.len());
    out.extend_from_slice(&[1, 1]); // version 1.1
    out.extend_from_slice(&0x0002u16.to_be_bytes()); // Print-Job
    out.extend_from_slice(&1u32.to_be_bytes()); // request-id
    out.push(0x01); // operation-attributes-tag
    attr(&mut out, 0x47, "attributes-charset", "utf-8");
    attr(&mut out, 0x48, "attributes-natural-language", "en");
    attr(&mut out, 0x45, "printer-uri", printer_uri);
    attr(&mut out, 0x42, "requesting-user-name", user);
    attr(&mut out, 0x42, "job-name", name);
    attr(&mut out, 0x49, "document-format", format.mime());
    out.push(0x03); // end-of-attributes-tag
    out.extend_from_slice(doc);
    out
}

/// Sends a Print-Job; on failure, whether the job may have reached the printer, and why.
async fn ipp_print_job(
    url: &url::Url,
    name: &str,
    format: DocFormat,
    doc: &[u8],
) -> Result<(), (bool, String)> {
    // IPP runs over HTTP (RFC 8010); `ipp` cannot simply be renamed `http` in a parsed URL.
    let http = format!(
        "http://{}:{}{}",
        url.host_str().unwrap_or_default(),
        url.port().unwrap_or(631),
        url.path()
    );
    let body = ipp_request(url.as_str(), "packline", name, format, doc);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| (false, e.to_string()))?;
    let resp = client
        .post(http)
        .header("content-type", "application/ipp")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            // A refused connection sent nothing; anything later may have delivered the job.
            let sent = !e.is_connect();
            let why = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "cannot connect"
            } else {
                "transport error"
            };
            (sent, format!("IPP request failed: {why}"))
        })?;
    if !resp.status().is_success() {
        return Err((
            false,
            format!("the printer answered HTTP {}", resp.status().as_u16()),
        ));
    }
    let bytes = resp.bytes().await.map_err(|e| (true, e.to_string()))?;
    let status = bytes
        .get(2..4)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or((true, "the printer's IPP answer is too short".to_owned()))?;
    if status <= 0x00ff {
        Ok(())
    } else {
        Err((
            false,
            format!("the printer refused the job (IPP status 0x{status:04x})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_uris_parse_or_are_named() {
        assert_eq!(
            Printer::parse("socket://10.0.0.5:9100").unwrap(),
            Printer::Socket {
                host: "10.0.0.5".into(),
                port: 9100
            }
        );
        assert_eq!(
            Printer::parse("cups:Zebra_GK420").unwrap(),
            Printer::Cups {
                queue: "Zebra_GK420".into()
            }
        );
        assert_eq!(
            Printer::parse("file:/var/spool/labels").unwrap(),
            Printer::File {
                dir: "/var/spool/labels".into()
            }
        );
        assert!(matches!(
            Printer::parse("ipp://printer.local:631/ipp/print"),
            Ok(Printer::Ipp { .. })
        ));
        for bad in ["lpt1", "cups:", "cups:a b", "file:relative", "http://x"] {
            let e = Printer::parse(bad).unwrap_err().to_string();
            assert!(e.contains("not a printer URI"), "{e}");
        }
    }

    #[test]
    fn an_ipp_request_carries_the_operation_and_document() {
        let r = ipp_request(
            "ipp://p/ipp/print",
            "packline",
            "slip 123",
            DocFormat::Pdf,
            b"%PDF-",
        );
        assert_eq!(&r[..4], &[1, 1, 0, 2]);
        assert!(r.ends_with(b"\x03%PDF-"));
        assert!(r.windows(15).any(|w| w == b"application/pdf"));
    }
}
