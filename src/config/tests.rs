use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(Some(&p))
}

#[test]
fn a_parse_error_keeps_tomls_lines_and_caret() {
    let e = Config::from_text("[amazon\n", Path::new("/etc/packline/config.toml"))
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "config /etc/packline/config.toml: TOML parse error at line 1, column 8",
            "  |",
            "1 | [amazon",
            "  |        ^",
        ],
        "{e}"
    );
    // A control character of the file is not sent to the terminal.
    let e = Config::from_text("[amazon\x1b[2J\n", Path::new("c.toml"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\x1b') && e.contains("^"), "{e:?}");
}

#[test]
fn numbers_out_of_range_are_refused_by_name() {
    for (text, key) in [
        (
            "[amazon]\nlookback_days = 4000000000\n",
            "[amazon] lookback_days = 4000000000",
        ),
        (
            "[amazon]\nlookback_days = 0\n",
            "[amazon] lookback_days = 0",
        ),
        (
            "[amazon]\nrequest_timeout_secs = 0\n",
            "[amazon] request_timeout_secs = 0",
        ),
        (
            "[service]\nclaim_timeout_secs = 0\n",
            "[service] claim_timeout_secs = 0",
        ),
        ("[floor]\nbatch_size = 1000\n", "[floor] batch_size = 1000"),
        ("[tui]\nscan_gap_ms = 0\n", "[tui] scan_gap_ms = 0"),
        ("[tui]\nscan_min_len = 0\n", "[tui] scan_min_len = 0"),
        (
            "[service]\nconnections_per_user = 0\n",
            "[service] connections_per_user = 0",
        ),
        (
            "[service]\nconnections_per_user = 300\n",
            "[service] connections_per_user = 300",
        ),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains(key) && err.contains("must be between"),
            "{err}"
        );
        assert!(err.contains("c.toml"), "names the file: {err}");
    }
    let ok = parse("[amazon]\nlookback_days = 365\n[floor]\nbatch_size = 100\n").unwrap();
    assert_eq!(ok.amazon.lookback_days(), 365);
    assert_eq!(ok.service.connections_per_user(), 32);
    let raised = parse("[service]\nconnections_per_user = 128\n").unwrap();
    assert_eq!(raised.service.connections_per_user(), 128);
}

#[test]
fn scales_are_read_and_bad_ones_refused_by_key() {
    let cfg = parse(
        "[floor]\nscale = \"bench\"\n[floor.scales]\nbench = \"serial:/dev/ttyUSB0\"\n\
         pos = \"hid:/dev/hidraw0\"\n[floor.users.bo]\nscale = \"pos\"\n",
    )
    .unwrap();
    let at = |user: &str, term: Option<&str>| {
        cfg.floor
            .scale_for(user, term)
            .unwrap()
            .map(|s| s.to_string())
    };
    assert_eq!(at("ann", None).as_deref(), Some("serial:/dev/ttyUSB0"));
    assert_eq!(at("bo", None).as_deref(), Some("hid:/dev/hidraw0"));
    assert_eq!(at("ann", Some("pos")).as_deref(), Some("hid:/dev/hidraw0"));
    assert_eq!(
        at("ann", Some("serial:/dev/ttyS3")).as_deref(),
        Some("serial:/dev/ttyS3")
    );
    assert!(
        cfg.floor
            .scale_for("ann", Some("nope"))
            .unwrap_err()
            .contains("PACKLINE_SCALE = \"nope\": there is no scale named nope")
    );
    assert_eq!(Config::default().floor.scale_for("ann", None), Ok(None));
    for (text, said) in [
        (
            "[floor.scales]\nbench = \"usb:/dev/x\"\n",
            "[floor.scales] bench = \"usb:/dev/x\": ",
        ),
        (
            "[floor.scales]\nbench = \"serial:/dev/x?baud=7\"\n",
            "[floor.scales] bench = \"serial:/dev/x?baud=7\": ",
        ),
        (
            "[floor]\nscale = \"bench\"\n",
            "[floor] scale = \"bench\": there is no scale named bench: name it in [floor.scales]",
        ),
        (
            "[floor.scales]\na = \"hid:/dev/hidraw0\"\n[floor.users.bo]\nscale = \"b\"\n",
            "[floor.users.bo] scale = \"b\": there is no scale named b in [floor.scales] (its scales: a)",
        ),
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(said) && err.contains("c.toml"), "{err}");
    }
}

#[test]
fn unknown_keys_are_named() {
    let err = parse("[store]\ndata_dri = \"/x\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("c.toml") && err.contains("data_dri"), "{err}");
}

#[test]
fn retention_may_only_be_lowered() {
    assert_eq!(
        parse("[retention]\npii_days_after_ship = 14\n")
            .unwrap()
            .retention()
            .pii_days_after_close,
        14
    );
    let err = parse("[retention]\npii_days_after_ship = 31\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 30 days"), "{err}");
}

#[test]
fn roles_map_users() {
    let c = parse("[roles]\nleads = [\"ana\"]\npackers = [\"bo\"]\n").unwrap();
    assert_eq!(c.role_of("ana", "ana"), Some(Role::Lead));
    assert_eq!(c.role_of("bo", "ana"), Some(Role::Packer));
    assert_eq!(c.role_of("eve", "ana"), None);
    // Listed roles are all there is: the owner unlisted has none.
    assert_eq!(c.role_of("eve", "eve"), None);
    // Nobody named: the owner alone is the lead, whether [roles] is absent or empty.
    for c in [
        Config::default(),
        parse(
            "[roles]
",
        )
        .unwrap(),
        parse(
            "[roles]
leads = []
packers = []
",
        )
        .unwrap(),
    ] {
        assert_eq!(c.role_of("ana", "ana"), Some(Role::Lead));
        assert_eq!(c.role_of("anyone", "ana"), None);
        assert_eq!(c.role_of("", "ana"), None);
    }
    assert!(parse("[roles]\nleads = [\"a\"]\npackers = [\"a\"]\n").is_err());
}

/// The config's keys against the documentation.
mod reference {
    /// Every key a config can hold is documented in docs/ (or the README): a key the code reads
    /// and no page names is a key nobody can find. Read from the config's own structs (src/config/): each field
    /// of a struct that deserializes must appear as `key =` in a page, or as a table header
    /// (`[key]`, `[table.key]`, `[table.key.NAME]`).
    #[test]
    fn every_config_key_is_documented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        // Every file of the config's own structs.
        let mut source = String::new();
        for file in std::fs::read_dir(root.join("src/config")).unwrap() {
            source.push_str(&std::fs::read_to_string(file.unwrap().path()).unwrap());
        }
        let mut docs = std::fs::read_to_string(root.join("README.md")).unwrap();
        for page in std::fs::read_dir(root.join("docs")).unwrap() {
            let page = page.unwrap().path();
            if page.extension().is_some_and(|e| e == "md") {
                docs.push_str(&std::fs::read_to_string(page).unwrap());
            }
        }
        let documented = |key: &str| {
            docs.contains(&format!("{key} ="))
                || docs.contains(&format!("[{key}]"))
                || docs.contains(&format!(".{key}]"))
                || docs.contains(&format!(".{key}."))
                || docs.contains(&format!("[{key}."))
        };
        let mut keys = Vec::new();
        let mut missing = Vec::new();
        let mut in_struct = None::<String>;
        let mut deserialized = false;
        let mut skipped = false;
        for line in source.lines() {
            if line.starts_with("#[derive(") {
                deserialized = line.contains("Deserialize");
            } else if let Some(rest) = line.strip_prefix("pub struct ") {
                in_struct = deserialized.then(|| rest.split([' ', '{']).next().unwrap().to_owned());
            } else if line == "}" {
                in_struct = None;
            } else if let Some(s) = &in_struct {
                let t = line.trim();
                if t.starts_with("#[serde(skip") {
                    skipped = true;
                } else if let Some(field) = t.strip_prefix("pub ").and_then(|f| f.split_once(':')) {
                    let key = field.0;
                    if !std::mem::take(&mut skipped) {
                        keys.push(format!("{s}.{key}"));
                        if !documented(key) {
                            missing.push(format!("{s}.{key}"));
                        }
                    }
                }
            }
        }
        assert!(
            keys.len() > 60,
            "the config's keys were not found: {keys:?}"
        );
        assert!(
            missing.is_empty(),
            "config keys no page documents: {missing:?}"
        );
    }
}
