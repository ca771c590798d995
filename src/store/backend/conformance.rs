//! What every engine must do, as tests any engine runs: `all(&backend)` over a fresh, empty
//! database of that engine.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Backend, Batch, Bytes, abort};
use crate::store::Error;

/// Every conformance check, in turn.
pub fn all(b: &Backend) {
    reads_and_writes(b);
    ordered_scans(b);
    batches(b);
    trees_by_name(b);
    transactions_are_atomic(b);
    concurrent_transactions_serialize(b);
}

fn keys(pairs: super::Pairs) -> Vec<Vec<u8>> {
    pairs.map(|p| p.unwrap().0.to_vec()).collect()
}

fn reads_and_writes(b: &Backend) {
    let t = b.open_tree("rw").unwrap();
    assert!(t.is_empty());
    assert_eq!(t.insert(b"k", b"one").unwrap(), None);
    assert_eq!(
        t.insert(b"k", b"two").unwrap(),
        Some(Bytes::from(&b"one"[..]))
    );
    assert_eq!(t.get(b"k").unwrap().as_deref(), Some(&b"two"[..]));
    assert!(t.contains_key(b"k").unwrap());
    assert_eq!(t.len(), 1);
    assert_eq!(t.remove(b"k").unwrap().as_deref(), Some(&b"two"[..]));
    assert_eq!(t.get(b"k").unwrap(), None);
    assert_eq!(t.remove(b"k").unwrap(), None);
    // Empty keys and values, and bytes that are not text, are kept as they are.
    t.insert(b"", b"").unwrap();
    t.insert([0u8, 0xff, 0x80], [0xffu8; 3]).unwrap();
    assert_eq!(t.get(b"").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(
        t.get([0u8, 0xff, 0x80]).unwrap().as_deref(),
        Some(&[0xffu8; 3][..])
    );
    // Compare and swap: written only over the value it names, absent named as none.
    assert!(t.compare_and_swap(b"c", None, Some(b"1")).unwrap());
    assert!(!t.compare_and_swap(b"c", None, Some(b"2")).unwrap());
    assert!(!t.compare_and_swap(b"c", Some(b"2"), Some(b"3")).unwrap());
    assert_eq!(t.get(b"c").unwrap().as_deref(), Some(&b"1"[..]));
    assert!(t.compare_and_swap(b"c", Some(b"1"), Some(b"2")).unwrap());
    assert!(t.compare_and_swap(b"c", Some(b"2"), None).unwrap());
    assert_eq!(t.get(b"c").unwrap(), None);
    // Several keys at once: each value in the keys' order, a missing one as none, a key
    // asked twice answered twice.
    t.insert(b"m1", b"one").unwrap();
    t.insert(b"m2", b"two").unwrap();
    let got = t
        .get_many(&[&b"m2"[..], b"none", b"m1", b"m2"])
        .unwrap()
        .into_iter()
        .map(|v| v.map(|v| v.to_vec()))
        .collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            Some(b"two".to_vec()),
            None,
            Some(b"one".to_vec()),
            Some(b"two".to_vec())
        ]
    );
    t.clear().unwrap();
    assert!(t.is_empty());
    t.flush().unwrap();
}

fn ordered_scans(b: &Backend) {
    let t = b.open_tree("scan").unwrap();
    // Inserted out of order: scans answer in byte order of the keys.
    for k in [
        &b"b2"[..],
        b"a",
        b"b",
        b"b\xff",
        b"b1",
        b"c",
        b"\xff",
        b"\xff\xff",
    ] {
        t.insert(k, k).unwrap();
    }
    assert_eq!(
        keys(t.iter()),
        vec![
            b"a".to_vec(),
            b"b".to_vec(),
            b"b1".to_vec(),
            b"b2".to_vec(),
            b"b\xff".to_vec(),
            b"c".to_vec(),
            b"\xff".to_vec(),
            b"\xff\xff".to_vec()
        ]
    );
    assert_eq!(
        keys(t.scan_prefix(b"b")),
        vec![
            b"b".to_vec(),
            b"b1".to_vec(),
            b"b2".to_vec(),
            b"b\xff".to_vec()
        ]
    );
    assert_eq!(
        keys(t.scan_prefix(b"\xff")),
        vec![b"\xff".to_vec(), b"\xff\xff".to_vec()]
    );
    assert_eq!(keys(t.scan_prefix(b"d")), Vec::<Vec<u8>>::new());
    assert_eq!(
        keys(t.range(b"b1".to_vec()..b"c".to_vec())),
        vec![b"b1".to_vec(), b"b2".to_vec(), b"b\xff".to_vec()]
    );
    assert_eq!(
        keys(t.range(b"b1".to_vec()..=b"c".to_vec())),
        vec![
            b"b1".to_vec(),
            b"b2".to_vec(),
            b"b\xff".to_vec(),
            b"c".to_vec()
        ]
    );
    assert_eq!(keys(t.range(..b"b".to_vec())), vec![b"a".to_vec()]);
    assert_eq!(
        t.scan_prefix(b"b")
            .rev()
            .map(|p| p.unwrap().0.to_vec())
            .collect::<Vec<_>>(),
        vec![
            b"b\xff".to_vec(),
            b"b2".to_vec(),
            b"b1".to_vec(),
            b"b".to_vec()
        ]
    );
    assert_eq!(t.first().unwrap().unwrap().0.to_vec(), b"a".to_vec());
    assert_eq!(t.last().unwrap().unwrap().0.to_vec(), b"\xff\xff".to_vec());
    // A scan's values are the values.
    let (k, v) = t.scan_prefix(b"c").next().unwrap().unwrap();
    assert_eq!((k.to_vec(), v.to_vec()), (b"c".to_vec(), b"c".to_vec()));
    // The first keys under several prefixes at once: each prefix's own, in order, at most
    // the limit, none for a prefix with none; a prefix of 0xFF alone runs to the tree's end.
    let firsts = |prefixes: &[&[u8]], limit| -> Vec<Vec<Vec<u8>>> {
        t.first_keys(prefixes, limit)
            .unwrap()
            .into_iter()
            .map(|ks| ks.into_iter().map(|k| k.to_vec()).collect())
            .collect()
    };
    assert_eq!(
        firsts(&[b"b", b"d", b"a", b"c"], 2),
        vec![
            vec![b"b".to_vec(), b"b1".to_vec()],
            vec![],
            vec![b"a".to_vec()],
            vec![b"c".to_vec()]
        ]
    );
    assert_eq!(
        firsts(&[b"b", b"\xff"], 10),
        vec![
            keys(t.scan_prefix(b"b")),
            vec![b"\xff".to_vec(), b"\xff\xff".to_vec()]
        ]
    );
    assert_eq!(firsts(&[b""], 3), vec![keys(t.iter())[..3].to_vec()]);
}

fn batches(b: &Backend) {
    let t = b.open_tree("batch").unwrap();
    t.insert(b"gone", b"x").unwrap();
    let mut batch = Batch::default();
    batch.insert(b"a", b"1".to_vec());
    batch.insert(b"b", b"2".to_vec());
    batch.remove(b"gone");
    batch.insert(b"a", b"3".to_vec());
    t.apply_batch(batch).unwrap();
    assert_eq!(keys(t.iter()), vec![b"a".to_vec(), b"b".to_vec()]);
    // The later write of a key in one batch wins.
    assert_eq!(t.get(b"a").unwrap().as_deref(), Some(&b"3"[..]));
    t.apply_batch(Batch::default()).unwrap();
    assert_eq!(t.len(), 2);
}

fn trees_by_name(b: &Backend) {
    let one = b.open_tree("named/one").unwrap();
    let two = b.open_tree("named/two").unwrap();
    one.insert(b"k", b"1").unwrap();
    two.insert(b"k", b"2").unwrap();
    // Trees are apart: the same key holds each tree's own value.
    assert_eq!(one.get(b"k").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(
        b.open_tree("named/two")
            .unwrap()
            .get(b"k")
            .unwrap()
            .as_deref(),
        Some(&b"2"[..])
    );
    let names = b.tree_names().unwrap();
    assert!(names.iter().any(|n| n == "named/one"), "{names:?}");
    assert!(b.drop_tree("named/two").unwrap());
    assert!(!b.tree_names().unwrap().iter().any(|n| n == "named/two"));
    assert!(b.open_tree("named/two").unwrap().is_empty());
    b.flush().unwrap();
    assert!(b.size_on_disk().unwrap() > 0);
    let ids: std::collections::BTreeSet<u64> = (0..100).map(|_| b.generate_id().unwrap()).collect();
    assert_eq!(ids.len(), 100, "an id was handed out twice");
}

fn transactions_are_atomic(b: &Backend) {
    let x = b.open_tree("tx/x").unwrap();
    let y = b.open_tree("tx/y").unwrap();
    // Reads inside see the transaction's own writes; both trees change together.
    let seen = b
        .transact(&[&x, &y], |t| {
            t[0].insert(b"k", b"x")?;
            t[1].insert(b"k", b"y")?;
            Ok(t[0].get(b"k")?.map(|v| v.to_vec()))
        })
        .unwrap();
    assert_eq!(seen, Some(b"x".to_vec()));
    assert_eq!(y.get(b"k").unwrap().as_deref(), Some(&b"y"[..]));
    // An abort after writes leaves nothing of them, and comes out as the error it carried.
    let r: Result<(), Error> = b.transact(&[&x, &y], |t| {
        t[0].insert(b"k", b"changed")?;
        t[1].remove(b"k")?;
        abort(Error::NoSuchInquiry(7))
    });
    match r {
        Err(Error::NoSuchInquiry(n)) => assert_eq!(n, 7),
        other => panic!("an aborted transaction answered {:?}", other.err()),
    }
    assert_eq!(x.get(b"k").unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(y.get(b"k").unwrap().as_deref(), Some(&b"y"[..]));
    // A transaction's batch is applied with it.
    let mut batch = Batch::default();
    batch.insert(b"b1", b"1".to_vec());
    batch.remove(b"k");
    b.transact(&[&x], |t| t[0].apply_batch(&batch)).unwrap();
    assert_eq!(keys(x.iter()), vec![b"b1".to_vec()]);
}

/// Two threads each add one to a counter a thousand times, each addition a read and a write in
/// one transaction, while each also keeps a second tree's count in the same transaction: no
/// addition is lost and the two trees never disagree.
fn concurrent_transactions_serialize(b: &Backend) {
    const EACH: u64 = 500;
    let counter = b.open_tree("tx/counter").unwrap();
    let shadow = b.open_tree("tx/shadow").unwrap();
    let runs = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..EACH {
                    b.transact(&[&counter, &shadow], |t| {
                        runs.fetch_add(1, Ordering::Relaxed);
                        let n = read(t[0].get(b"n")?);
                        let m = read(t[1].get(b"n")?);
                        if n != m {
                            return abort(Error::Database(format!("saw {n} and {m}")));
                        }
                        t[0].insert(b"n", (n + 1).to_be_bytes())?;
                        t[1].insert(b"n", (m + 1).to_be_bytes())?;
                        Ok(())
                    })
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(read(counter.get(b"n").unwrap()), 2 * EACH);
    assert_eq!(read(shadow.get(b"n").unwrap()), 2 * EACH);
    // The same with compare and swap on one key: each addition read, decided and kept only
    // over the value it read, tried again when another came between.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..EACH {
                    loop {
                        let old = counter.get(b"cas").unwrap();
                        let n = read(old.clone()) + 1;
                        if counter
                            .compare_and_swap(b"cas", old.as_deref(), Some(&n.to_be_bytes()))
                            .unwrap()
                        {
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(read(counter.get(b"cas").unwrap()), 2 * EACH);
    assert!(runs.load(Ordering::Relaxed) >= 2 * EACH as usize);
}

fn read(v: Option<Bytes>) -> u64 {
    v.map_or(0, |v| u64::from_be_bytes(v[..8].try_into().unwrap()))
}

#[test]
fn sled_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    all(&Backend::new(super::embedded::Sled(db)));
}
