//! The README's quickstart, run verbatim in a fresh folder: it must end with a label file and a
//! closed day, as the README says. A README that drifts from the product fails here.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// The shell block that follows the README's quickstart marker.
fn quickstart() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let after = readme
        .split_once("<!-- quickstart:")
        .expect("the README marks its quickstart")
        .1;
    let block = after
        .split_once("```sh\n")
        .expect("a sh block after the marker")
        .1;
    block
        .split_once("\n```")
        .expect("the block ends")
        .0
        .to_owned()
}

#[test]
fn the_readmes_quickstart_ships_an_order_verbatim() {
    let script = quickstart();
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_packline")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let shell = |script: &str| {
        let mut c = Command::new("bash");
        c.args(["-e", "-o", "pipefail", "-c", script])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", &path)
            .env("HOME", dir.path())
            // Its own process group: whatever the script leaves running is stopped after.
            .process_group(0);
        c
    };
    // Its output goes to files, not pipes: a marketplace left running by a failed step would
    // keep a pipe open, and the test waiting for it.
    let logs = tempfile::tempdir().unwrap();
    let (out_file, err_file) = (logs.path().join("out"), logs.path().join("err"));
    let mut child = shell(&script)
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::fs::File::create(&err_file).unwrap())
        .spawn()
        .unwrap();
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let status = child.wait().unwrap();
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let stdout = std::fs::read_to_string(&out_file).unwrap();
    let stderr = std::fs::read_to_string(&err_file).unwrap();
    assert!(
        status.success(),
        "the quickstart failed ({status}):\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("1 order(s) shipped"), "{stderr}");
    // The label is a file in labels/, beside the day's collection form.
    let files: Vec<String> = std::fs::read_dir(dir.path().join("labels"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("100-0000000-0000000") && f.contains("label")),
        "{files:?}"
    );
    // The offer bought is the cheapest that keeps the order's promise, which depends on the hour
    // the quickstart runs (the training marketplace's delivery dates are whole days from now):
    // the day's collection form is that carrier's.
    let carrier = stdout
        .lines()
        .chain(stderr.lines())
        .find_map(|l| l.strip_prefix("order 100-0000000-0000000: label bought "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no label bought in:\n{stdout}\n{stderr}"));
    assert!(
        files
            .iter()
            .any(|f| f.starts_with(&format!("collection_form_{carrier}_"))),
        "{carrier}: {files:?}"
    );
    // The order is shipped.
    let listed = shell(
        "export PACKLINE_CONFIG=$PWD/packline.toml PACKLINE_DATA_DIR=$PWD/data; packline orders list --json-lines",
    )
    .output()
    .unwrap();
    let row: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(row["order_id"], "100-0000000-0000000");
    assert_eq!(row["state"], "shipped");
}
