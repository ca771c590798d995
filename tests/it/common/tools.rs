//! The programs outside Rust that some tests drive: independent renderers and decoders, a real IPP
//! printer, tmux, setpriv. Plain `cargo test` skips a test (or the part of it) whose program is
//! missing and says so on the terminal; `scripts/test` installs them all and sets
//! `PACKLINE_TEST_REQUIRE_TOOLS=1`, under which a missing program fails the test instead, so CI
//! can never pass by skipping.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// tmux, for the end-to-end TUI test in a real terminal.
    Tmux,
    /// util-linux `setpriv`, to run clients as other OS users (and root to use it).
    Setpriv,
    /// CUPS' `ippeveprinter` with `dbus-daemon`: a real IPP printer.
    IppPrinter,
    /// Node.js with npm's `zpl-renderer-js` under `target/npm`: an independent ZPL renderer.
    ZplRenderer,
    /// poppler's `pdftoppm`: renders PDF labels to images.
    Pdftoppm,
    /// Python 3 with PyPI's `zxing-cpp` and `pillow`: an independent barcode decoder.
    Zxing,
    /// root, to mount a small tmpfs that a test fills up.
    Tmpfs,
}

impl Tool {
    const ALL: [Tool; 7] = [
        Tool::Tmux,
        Tool::Setpriv,
        Tool::IppPrinter,
        Tool::ZplRenderer,
        Tool::Pdftoppm,
        Tool::Zxing,
        Tool::Tmpfs,
    ];

    /// What is missing, with how to get it; `None` when the tool is there.
    fn missing(self) -> Option<String> {
        let status = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
        };
        // Found on the PATH (some print their usage with a non-zero exit).
        let runs = |program: &str, args: &[&str]| status(program, args).is_ok();
        match self {
            Tool::Tmux => (!runs("tmux", &["-V"])).then(|| "tmux (Debian tmux)".into()),
            Tool::Setpriv => {
                if !runs("setpriv", &["--version"]) {
                    Some("setpriv (Debian util-linux)".into())
                } else if !nix::unistd::getuid().is_root() {
                    Some("root, to run clients as other OS users with setpriv".into())
                } else {
                    None
                }
            }
            Tool::IppPrinter => {
                if !runs("ippeveprinter", &["--help"]) {
                    Some("ippeveprinter (Debian cups-ipp-utils)".into())
                } else if !runs("dbus-daemon", &["--version"]) {
                    Some("dbus-daemon (Debian dbus)".into())
                } else {
                    None
                }
            }
            Tool::ZplRenderer => {
                let module = concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/target/npm/node_modules/zpl-renderer-js"
                );
                if !runs("node", &["--version"]) {
                    Some("node (Debian nodejs)".into())
                } else if !std::path::Path::new(module).is_dir() {
                    Some(format!(
                        "zpl-renderer-js at {module} (npm install --prefix target/npm zpl-renderer-js@2)"
                    ))
                } else {
                    None
                }
            }
            Tool::Pdftoppm => {
                (!runs("pdftoppm", &["-v"])).then(|| "pdftoppm (Debian poppler-utils)".into())
            }
            Tool::Zxing => (!status("python3", &["-c", "import zxingcpp, PIL"])
                .is_ok_and(|s| s.success()))
            .then(|| "python3 with zxing-cpp and pillow (pip install zxing-cpp pillow)".into()),
            Tool::Tmpfs => {
                if !nix::unistd::getuid().is_root() {
                    Some("root, to mount a small tmpfs".into())
                } else if !runs("mount", &["--version"]) {
                    Some("mount (Debian mount)".into())
                } else {
                    None
                }
            }
        }
    }

    /// Looked up once per test process.
    fn cached_missing(self) -> Option<&'static str> {
        static SEEN: [OnceLock<Option<String>>; 7] = [const { OnceLock::new() }; 7];
        let i = Tool::ALL.iter().position(|t| *t == self).unwrap();
        SEEN[i].get_or_init(|| self.missing()).as_deref()
    }
}

/// Whether a test that needs `tools` can run. When one is missing, a plain run reports the skip
/// on the terminal (past the test harness's capture) and answers false; under `scripts/test`
/// (`PACKLINE_TEST_REQUIRE_TOOLS=1`) it fails the test.
pub fn have(tools: &[Tool]) -> bool {
    let missing: Vec<&str> = tools.iter().filter_map(|t| t.cached_missing()).collect();
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let why = format!("{test} needs {}", missing.join(" and "));
    if std::env::var_os("PACKLINE_TEST_REQUIRE_TOOLS").is_some_and(|v| v == "1") {
        panic!("{why}; scripts/test installs it and requires every test to run");
    }
    // Straight to the terminal: the harness captures print!, not writes to the stream itself.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {why} (scripts/test installs what is missing)"
    );
    false
}
