//! The scale reader against devices simulated on pseudo-terminals: a USB point-of-sale scale's
//! reports, a serial scale that says nothing, a device that is not there.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

use packline::scale::device::{NO_ANSWER, watch};
use packline::scale::{Fault, Reading, ScaleSpec, ScaleState};

/// A pseudo-terminal in raw mode: what is written to its master comes out of `path` as is.
fn raw_pty() -> (std::fs::File, std::os::fd::OwnedFd, String) {
    use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut t = tcgetattr(&pty.slave).unwrap();
    cfmakeraw(&mut t);
    tcsetattr(&pty.slave, SetArg::TCSANOW, &t).unwrap();
    let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
        .unwrap()
        .display()
        .to_string();
    (std::fs::File::from(pty.master), pty.slave, path)
}

/// The states said, until `last` (or a timeout).
fn states_until(rx: &mpsc::Receiver<ScaleState>, last: &ScaleState) -> Vec<ScaleState> {
    let mut seen = Vec::new();
    while seen.last() != Some(last) {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(s) => seen.push(s),
            Err(_) => panic!("never said {last:?}; said {seen:?}"),
        }
    }
    seen
}

#[test]
fn a_hid_scales_reports_become_readings() {
    let (mut master, _slave, path) = raw_pty();
    let (tx, rx) = mpsc::channel();
    let _watch = watch(
        ScaleSpec::parse(&format!("hid:{path}")).unwrap(),
        move |s| {
            let _ = tx.send(s);
        },
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)),
        Ok(ScaleState::Starting)
    );
    // In motion at 0.5 lb, then settled at 2.5 lb (1134 g), then needs zeroing.
    for report in [[3, 3, 12, 0xFF, 5, 0], [3, 4, 12, 0xFF, 25, 0]] {
        master.write_all(&report).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let seen = states_until(&rx, &ScaleState::Reading(Reading::Stable(1134)));
    assert_eq!(
        seen,
        [
            ScaleState::Reading(Reading::Moving(Some(227))),
            ScaleState::Reading(Reading::Stable(1134))
        ]
    );
    master.write_all(&[3, 8, 12, 0xFF, 0, 0]).unwrap();
    states_until(
        &rx,
        &ScaleState::Reading(Reading::Fault(Fault::NeedsRezero)),
    );
}

#[test]
fn a_silent_serial_scale_is_off_and_a_missing_one_says_why() {
    let (_master, _slave, path) = raw_pty();
    let (tx, rx) = mpsc::channel();
    let spec = ScaleSpec::parse(&format!("serial:{path}")).unwrap();
    let started = std::time::Instant::now();
    let _watch = watch(spec, move |s| {
        let _ = tx.send(s);
    });
    let off = ScaleState::Off(format!("no answer from serial:{path}"));
    assert_eq!(states_until(&rx, &off), [ScaleState::Starting, off.clone()]);
    assert!(started.elapsed() >= NO_ANSWER);

    let (tx, rx) = mpsc::channel();
    let _watch = watch(
        ScaleSpec::parse("hid:/dev/packline-no-such-scale").unwrap(),
        move |s| {
            let _ = tx.send(s);
        },
    );
    let off = ScaleState::Off(
        "cannot open hid:/dev/packline-no-such-scale: No such file or directory".into(),
    );
    states_until(&rx, &off);
    assert_eq!(
        off.line(),
        "scale: off (cannot open hid:/dev/packline-no-such-scale: No such file or directory)"
    );
}
