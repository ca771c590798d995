use super::envelope::seal_to;
use super::*;
use crate::domain::Recipient;
use std::fs;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .unwrap()
        .into()
}

#[test]
fn envelope_round_trip_and_rejects_garbage() {
    let id = x25519::Identity::generate();
    let r = Recipient::named("Zoë");
    let env = seal_to(&r, 7, &id.to_public()).unwrap();
    let (epoch, ct) = parse_envelope(&env).unwrap();
    assert_eq!(epoch, 7);
    let plain = age::decrypt(&id, ct).unwrap();
    let back: Recipient = postcard::from_bytes(&plain[1..]).unwrap();
    assert_eq!(back, r);
    assert!(parse_envelope(b"PLR1\0\0\0\x07\xff\xff\xff\xff").is_none());
    assert!(parse_envelope(b"nope").is_none());
}

#[test]
fn identity_file_with_loose_mode_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let idp = dir.path().join("master.key");
    let ring = Keyring::init(dir.path(), &MasterSource::IdentityFile(idp.clone()), now()).unwrap();
    assert_eq!(ring.protection(), Protection::IdentityFile);
    assert!(read_identity_file(&idp).is_ok());
    fs::set_permissions(&idp, fs::Permissions::from_mode(0o644)).unwrap();
    let err = read_identity_file(&idp).err().unwrap().to_string();
    assert!(
        err.contains("mode 644") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn epochs_follow_iso_weeks_and_shredding_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let idp = dir.path().join("k");
    let mut ring =
        Keyring::init(dir.path(), &MasterSource::IdentityFile(idp.clone()), now()).unwrap();
    let (e1, _) = ring.current_epoch(now()).unwrap();
    let (same, _) = ring
        .current_epoch(now() + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(e1, same);
    let (e2, _) = ring
        .current_epoch(now() + chrono::Duration::days(7))
        .unwrap();
    assert_ne!(e1, e2);
    ring.unlock(&MasterSource::IdentityFile(idp.clone()))
        .unwrap();
    let r = Recipient::named("A B");
    let (env, epoch) = ring.seal(&r, now() + chrono::Duration::days(7)).unwrap();
    assert_eq!(epoch, e2);
    assert!(ring.open(&env, "test").is_ok());
    // Reload from disk: the file is the truth.
    let mut again = Keyring::load(dir.path()).unwrap();
    assert!(matches!(
        again.open(&env, "reveal"),
        Err(Error::Locked { .. })
    ));
    again.unlock(&MasterSource::IdentityFile(idp)).unwrap();
    assert!(again.open(&env, "test").is_ok());
    assert!(
        again.shred(&[e2], e2, now()).is_err(),
        "current epoch is never shredded"
    );
    let e3 = again.rotate(now() + chrono::Duration::days(8)).unwrap().id;
    again.shred(&[e2], e3, now()).unwrap();
    assert!(matches!(again.open(&env, "t"), Err(Error::EpochShredded { epoch }) if epoch == e2));
}

#[test]
fn an_epoch_recipient_swapped_for_a_foreign_key_is_refused_at_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let idp = dir.path().join("k");
    Keyring::init(dir.path(), &MasterSource::IdentityFile(idp.clone()), now()).unwrap();
    let path = Keyring::path_in(dir.path());
    let mut file: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let foreign = x25519::Identity::generate().to_public().to_string();
    file["epochs"][0]["recipient"] = foreign.clone().into();
    fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let mut ring = Keyring::load(dir.path()).unwrap();
    let err = ring
        .unlock(&MasterSource::IdentityFile(idp))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("keyring.json") && err.contains("recipient is not the one of its secret"),
        "{err}"
    );
    assert!(!ring.is_unlocked());
}
