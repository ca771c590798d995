//! Reading a scale: a thread of its own opens the device, asks a serial scale for its weight a
//! few times a second (a HID scale sends reports by itself), and says each change of state.
//! A device that is missing, fails, or does not answer in time is said to be off, and is opened
//! again until it answers.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Reading, ScaleSpec, ScaleState, SerialFrame, hid, nci};

/// How often a serial scale is asked for its weight.
const POLL_EVERY: Duration = Duration::from_millis(200);

/// How long a scale may be silent before it is said to be off.
pub const NO_ANSWER: Duration = Duration::from_millis(1500);

/// How long to wait before opening a device that failed again.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// A scale being read; dropping it stops the reading.
#[derive(Debug)]
pub struct Watch {
    stop: Arc<AtomicBool>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts reading `spec` on its own thread; `on_change` hears the first state and each change.
pub fn watch(spec: ScaleSpec, on_change: impl FnMut(ScaleState) + Send + 'static) -> Watch {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let mut said = Said {
        last: None,
        on_change,
    };
    let spawned = std::thread::Builder::new()
        .name("scale".into())
        .spawn(move || {
            said.say(ScaleState::Starting);
            while !flag.load(Ordering::Relaxed) {
                let why = match &spec {
                    ScaleSpec::Serial { path, baud, frame } => {
                        read_serial(&spec, path, *baud, *frame, &flag, &mut said)
                    }
                    ScaleSpec::Hid { path } => read_hid(path, &flag, &mut said),
                };
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                said.say(ScaleState::Off(why));
                sleep_unless(&flag, REOPEN_AFTER);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(kind = ?e.kind(), "the scale's thread did not start");
    }
    Watch { stop }
}

/// Says a state only when it differs from the last one said.
struct Said<F> {
    last: Option<ScaleState>,
    on_change: F,
}

impl<F: FnMut(ScaleState)> Said<F> {
    fn say(&mut self, state: ScaleState) {
        if self.last.as_ref() != Some(&state) {
            self.last = Some(state.clone());
            (self.on_change)(state);
        }
    }
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An I/O error as a person reads it (without Rust's "(os error 2)").
fn plain(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Reads a serial scale until it fails or stops; returns why it stopped.
fn read_serial<F: FnMut(ScaleState)>(
    spec: &ScaleSpec,
    path: &std::path::Path,
    baud: u32,
    frame: SerialFrame,
    stop: &AtomicBool,
    said: &mut Said<F>,
) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    // Not blocking while opening: a port without carrier would otherwise hang here.
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return format!("cannot open {spec}: {}", plain(&e)),
    };
    if let Err(e) = set_line(&file, baud, frame) {
        return format!("{spec} is not a serial line: {e}");
    }
    let mut file = file;
    let mut frames = nci::Frames::default();
    let mut last_answer = Instant::now();
    let mut last_poll: Option<Instant> = None;
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        if last_poll.is_none_or(|t| t.elapsed() >= POLL_EVERY) {
            if let Err(e) = file.write_all(nci::POLL) {
                return format!("{spec}: {}", plain(&e));
            }
            last_poll = Some(Instant::now());
        }
        // The line waits up to 100 ms for bytes (VTIME), then returns what it has.
        match file.read(&mut buf) {
            Ok(n) => {
                for r in frames.push(&buf[..n]) {
                    last_answer = Instant::now();
                    said.say(ScaleState::Reading(r));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return format!("{spec}: {}", plain(&e)),
        }
        if last_answer.elapsed() >= NO_ANSWER {
            said.say(ScaleState::Off(format!("no answer from {spec}")));
        }
    }
    String::new()
}

/// Raw mode at the scale's speed and framing, reads that wait up to 100 ms, blocking again.
fn set_line(file: &std::fs::File, baud: u32, frame: SerialFrame) -> Result<(), String> {
    use nix::sys::termios::{
        BaudRate, ControlFlags, SetArg, SpecialCharacterIndices, cfmakeraw, cfsetspeed, tcgetattr,
        tcsetattr,
    };
    use std::os::fd::AsRawFd;
    let fd = file.as_fd();
    let mut t = tcgetattr(fd).map_err(|e| e.desc().to_owned())?;
    cfmakeraw(&mut t);
    let speed = match baud {
        1200 => BaudRate::B1200,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        _ => BaudRate::B9600,
    };
    cfsetspeed(&mut t, speed).map_err(|e| e.desc().to_owned())?;
    // No hardware flow control: a scale that does not drive CTS would otherwise block the
    // weight request forever.
    t.control_flags.remove(
        ControlFlags::CSIZE
            | ControlFlags::PARENB
            | ControlFlags::PARODD
            | ControlFlags::CSTOPB
            | ControlFlags::CRTSCTS,
    );
    t.control_flags
        .insert(ControlFlags::CLOCAL | ControlFlags::CREAD);
    match frame {
        SerialFrame::EightNone1 => t.control_flags.insert(ControlFlags::CS8),
        SerialFrame::SevenEven1 => t
            .control_flags
            .insert(ControlFlags::CS7 | ControlFlags::PARENB),
        SerialFrame::SevenOdd1 => t
            .control_flags
            .insert(ControlFlags::CS7 | ControlFlags::PARENB | ControlFlags::PARODD),
    }
    t.control_chars[SpecialCharacterIndices::VMIN as usize] = 0;
    t.control_chars[SpecialCharacterIndices::VTIME as usize] = 1;
    tcsetattr(fd, SetArg::TCSANOW, &t).map_err(|e| e.desc().to_owned())?;
    // Blocking again, so that VTIME paces the reads.
    let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)
        .map_err(|e| e.desc().to_owned())?;
    let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
    flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))
        .map_err(|e| e.desc().to_owned())?;
    Ok(())
}

/// Reads a HID scale's reports until it fails or stops; returns why it stopped. A HID scale
/// may send nothing while nothing changes, so silence is not "off"; a device unplugged is.
fn read_hid<F: FnMut(ScaleState)>(
    path: &std::path::Path,
    stop: &AtomicBool,
    said: &mut Said<F>,
) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let spec = format!("hid:{}", path.display());
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => return format!("cannot open {spec}: {}", plain(&e)),
    };
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        match file.read(&mut buf) {
            Ok(0) => return format!("{spec} was unplugged"),
            Ok(n) => {
                let readings: Vec<Reading> = hid::parse_reads(&buf[..n]);
                for r in readings {
                    said.say(ScaleState::Reading(r));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return format!("{spec}: {}", plain(&e)),
        }
    }
    String::new()
}
