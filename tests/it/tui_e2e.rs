//! The real binary in a real terminal (tmux): `packline demo`, claim a batch, pick it by typing
//! scans, pack one order by scans, quit, and the terminal is restored.

use crate::common::{Tool, have};
use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Session(String);

impl Drop for Session {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.0]);
    }
}

impl Session {
    /// A new detached session of 80×24 running `cmd`.
    fn start(name: String, cmd: &str) -> Session {
        tmux(&[
            "new-session",
            "-d",
            "-s",
            &name,
            "-x",
            "80",
            "-y",
            "24",
            cmd,
        ]);
        Session(name)
    }

    fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.0])
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `found` finds something on the screen (a list may still be loading when its
    /// header shows), and answers it.
    fn wait_until<T>(&self, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if let Some(t) = found(&s) {
                return t;
            }
            assert!(Instant::now() < deadline, "waited for {what}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.0.as_str()];
        args.extend_from_slice(keys);
        tmux(&args);
    }

    /// A scan: the whole code and Enter in one burst, as a scanner types it.
    fn scan(&self, code: &str) {
        tmux(&["send-keys", "-t", &self.0, "-l", code]);
        self.keys(&["Enter"]);
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// (SKU, needed) of the rows on screen that show `picked/needed` after a SKU.
fn lines_with_counts(screen: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for line in screen.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            if w[0].starts_with("SKU-")
                && let Some((_, n)) = w[1].split_once('/')
                && let Ok(n) = n.parse()
            {
                out.push((w[0].to_owned(), n));
            }
        }
    }
    out
}

#[test]
fn demo_pick_and_pack_one_order_by_scans_then_quit() {
    if !have(&[Tool::Tmux]) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let name = format!("packline-e2e-{}", std::process::id());
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin HOME={home} TERM=xterm-256color {bin} demo --orders 2; echo EXITED $?; sleep 60",
        home = home.path().display(),
        bin = env!("CARGO_BIN_EXE_packline"),
    );
    let s = Session::start(name, &cmd);
    // The banner says where the demo's labels and slips are written.
    let first = s.wait_for("TRAINING FLOOR");
    let printed = first
        .split_once("printed to ")
        .map(|(_, rest)| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_else(|| panic!("the banner names no folder:\n{first}"));
    assert!(printed.starts_with("/tmp/packline-demo-"), "{printed}");
    assert!(std::path::Path::new(&printed).is_dir(), "{printed}");
    s.wait_for("new 2");

    s.keys(&["c"]);
    s.wait_for("PICK");
    // The batch's lines load after the screen shows: wait for them.
    let lines = s.wait_until("the batch's lines", |screen| {
        Some(lines_with_counts(screen)).filter(|l| !l.is_empty())
    });
    s.scan("NOT-A-REAL-SKU");
    s.wait_for("wrong item");
    for (sku, n) in &lines {
        for _ in 0..*n {
            s.scan(sku);
        }
    }
    s.keys(&["f"]);
    s.wait_for("picked: take it to packing");

    s.keys(&["F2"]);
    let queue = s.wait_for("[queue]");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut queue = queue;
    let order = loop {
        // A row: ORDER STATE SHIP-BY … (the counts line above also says "picked N").
        if let Some(id) = queue.lines().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() > 2 && w[1] == "picked" && w[0].matches('-').count() == 2).then(|| w[0])
        }) {
            break id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no picked order in the queue:\n{queue}"
        );
        std::thread::sleep(Duration::from_millis(100));
        queue = s.screen();
    };
    s.keys(&["F4"]);
    s.scan(&order);
    let pack = s.wait_for("TO SCAN");
    for (sku, n) in lines_with_counts(&pack) {
        for _ in 0..n {
            s.scan(&sku);
        }
    }
    s.wait_for("COMPLETE");
    tmux(&["send-keys", "-t", &s.0, "-l", "640"]);
    s.keys(&["Enter"]);
    s.wait_for(&format!("order {order} packed"));

    // Labels: the offers, buy the first (the rule's choice), and it prints (to a file printer).
    s.keys(&["F6"]);
    s.wait_for("to buy");
    s.keys(&["o"]);
    s.wait_for(" USD");
    s.keys(&["C-b"]);
    s.wait_for("label bought, tracking");
    s.wait_for(&format!("{order}: label printed"));
    s.keys(&["C-e"]);
    s.wait_for("1 parcel(s) on the manifest, 1 shipped now");

    s.keys(&["q"]);
    let end = s.wait_for("EXITED");
    assert!(end.contains("EXITED 0"), "{end}");
    assert_eq!(
        tmux(&["display-message", "-p", "-t", &s.0, "#{alternate_on}"]).trim(),
        "0",
        "the terminal left the alternate screen"
    );
    assert!(!end.contains("TRAINING FLOOR"), "the TUI is gone:\n{end}");
}

/// A demo whose terminal goes away (an SSH session dropped: SIGHUP) still removes its
/// directory, generated master key included.
#[test]
fn a_hung_up_demo_removes_its_directory() {
    if !have(&[Tool::Tmux]) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("packline-e2e-hup-{}", std::process::id());
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin HOME={home} TMPDIR={tmp} TERM=xterm-256color {bin} demo --orders 2",
        home = home.path().display(),
        tmp = tmp.path().display(),
        bin = env!("CARGO_BIN_EXE_packline"),
    );
    let s = Session::start(name, &cmd);
    s.wait_for("TRAINING FLOOR");
    let demo_dirs = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("packline-demo-")
            })
            .count()
    };
    assert_eq!(demo_dirs(), 1, "the demo keeps its store and key here");
    // Closing the session hangs up its terminal.
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    while demo_dirs() > 0 {
        assert!(
            Instant::now() < deadline,
            "the demo's directory was left behind"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `packline sync --once` on a terminal says what it waits for: once searchOrders' burst is
/// spent, the line on stderr names the pages and orders so far and the wait for Amazon's quota
/// (piped, the same sync prints a line per page only: `tests/sync.rs`).
#[test]
fn a_sync_on_a_terminal_shows_its_wait_for_the_quota() {
    if !have(&[Tool::Tmux]) {
        return;
    }
    // 2,300 orders: 23 pages, three past the burst of 20; time runs 100× faster.
    let m = crate::common::marketplace(2300, "100");
    // searchOrders pages only: with the actionable-orders report, nothing would wait.
    let site = crate::common::Site::new(&format!(
        "[amazon]\nendpoint = {:?}\ntoken_url = {:?}\nbacklog_report = false\n",
        m.url,
        format!("{}/auth/o2/token", m.url)
    ));
    site.init_identity_keys();
    let cmd = format!(
        "env -i PATH={path} HOME={home} PACKLINE_CONFIG={config} PACKLINE_DATA_DIR={data} \
         PACKLINE_LWA_CLIENT_ID=training PACKLINE_LWA_CLIENT_SECRET=training \
         PACKLINE_LWA_REFRESH_TOKEN=training {bin} sync --once; sleep 60",
        path = std::env::var("PATH").unwrap_or_default(),
        home = site.dir.path().display(),
        config = site.config.display(),
        data = site.data.display(),
        bin = env!("CARGO_BIN_EXE_packline"),
    );
    let s = Session::start(format!("packline-sync-{}", std::process::id()), &cmd);
    let screen = s.wait_for("for Amazon's quota");
    let line = screen
        .lines()
        .find(|l| l.contains("for Amazon's quota"))
        .unwrap()
        .trim_end();
    let (done, wait) = line.split_once("; waiting ").unwrap();
    let pages: u64 = done
        .strip_prefix("page ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!((20..23).contains(&pages), "{line:?}");
    assert_eq!(
        done,
        format!("page {pages}: {} new, 0 updated, 0 cancelled", pages * 100)
    );
    let secs = wait
        .strip_suffix("s for Amazon's quota")
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(
        (1..=3).contains(&secs),
        "about 2 s a page at 100×: {line:?}"
    );
    let screen = s.wait_for("imported 2300 new, 0 updated, 0 cancelled");
    assert!(
        !screen.contains("waiting"),
        "the wait is cleared from the line once done: {screen}"
    );
}

/// The real binary at a bench with a scale (`PACKLINE_SCALE`, an NCI scale simulated on a
/// pseudo-terminal): once the units are in, the bench shows the settled weight and Enter, with
/// nothing typed, packs the order at it; a scale that stops answering is said to be off.
#[test]
fn demo_packs_at_the_scales_weight_without_typing() {
    if !have(&[Tool::Tmux]) {
        return;
    }
    let scale = crate::common::SimScale::start();
    scale.answer(Some(b"\n0001.234KG\r\n00\r\x03"));
    let home = tempfile::tempdir().unwrap();
    let name = format!("packline-e2e-scale-{}", std::process::id());
    let cmd = format!(
        "env -i PATH=/usr/bin:/bin HOME={home} TERM=xterm-256color PACKLINE_SCALE=serial:{dev} \
         {bin} demo --orders 2; echo EXITED $?; sleep 60",
        home = home.path().display(),
        dev = scale.path,
        bin = env!("CARGO_BIN_EXE_packline"),
    );
    let s = Session::start(name, &cmd);
    s.wait_for("TRAINING FLOOR");
    s.wait_for("new 2");
    s.keys(&["c"]);
    let screen = s.wait_for("PICK");
    for (sku, n) in lines_with_counts(&screen) {
        for _ in 0..n {
            s.scan(&sku);
        }
    }
    s.keys(&["f"]);
    s.wait_for("picked: take it to packing");
    s.keys(&["F4"]);
    s.wait_for("PICKED");
    // The picked orders load after the header shows: wait for one.
    let order = s.wait_until("a picked order at the bench", |screen| {
        screen.lines().find_map(|l| {
            let w = l.split_whitespace().next()?;
            (w.matches('-').count() == 2 && w.len() == 19).then(|| w.to_owned())
        })
    });
    s.wait_for("scale: 1.234 kg (stable)");
    s.scan(&order);
    let pack = s.wait_for("TO SCAN");
    for (sku, n) in lines_with_counts(&pack) {
        for _ in 0..n {
            s.scan(&sku);
        }
    }
    s.wait_for("weight: 1.234 kg from the scale, Enter");
    s.keys(&["Enter"]);
    s.wait_for(&format!("order {order} packed"));

    scale.answer(None);
    s.wait_for(&format!(
        "scale: off (no answer from serial:{})",
        scale.path
    ));
    s.keys(&["q"]);
    let end = s.wait_for("EXITED");
    assert!(end.contains("EXITED 0"), "{end}");
}
