use super::*;
use crate::store::backend::{Backend, conformance};

fn fresh() -> Postgres {
    let cluster = cluster::shared().expect("a private PostgreSQL cluster");
    Postgres::open(&cluster.fresh_database().unwrap()).unwrap()
}

#[test]
fn postgres_passes_every_check() {
    conformance::all(&Backend::new(fresh()));
}

#[test]
fn a_part_keeps_its_trees_apart_from_the_main_ones() {
    let main = fresh();
    let index = main.part("index");
    let (m, i) = (Backend::new(main), Backend::new(index));
    m.open_tree("names").unwrap().insert(b"k", b"main").unwrap();
    i.open_tree("names")
        .unwrap()
        .insert(b"k", b"index")
        .unwrap();
    assert_eq!(m.tree_names().unwrap(), vec!["names".to_string()]);
    assert_eq!(i.tree_names().unwrap(), vec!["names".to_string()]);
    let got = |b: &Backend| b.open_tree("names").unwrap().get(b"k").unwrap().unwrap();
    assert_eq!(&*got(&m), b"main");
    assert_eq!(&*got(&i), b"index");
}

#[test]
fn a_scan_from_both_ends_meets_in_the_middle_once() {
    let b = Backend::new(fresh());
    let t = b.open_tree("t").unwrap();
    let mut batch = Batch::default();
    for i in 0u32..1000 {
        batch.insert(i.to_be_bytes(), vec![1]);
    }
    t.apply_batch(batch).unwrap();
    // Alternating ends across several pages of each.
    let mut scan = t.iter();
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        match scan.next() {
            Some(p) => front.push(p.unwrap().0.to_vec()),
            None => break,
        }
        if let Some(p) = scan.next_back() {
            back.push(p.unwrap().0.to_vec());
        }
    }
    back.reverse();
    front.extend(back);
    let want: Vec<Vec<u8>> = (0u32..1000).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(front, want);
}

#[test]
fn a_compare_and_swap_commits_without_waiting_for_the_disk_until_flushed() {
    // A cluster whose commits wait for the disk, as a production server's do.
    let cluster = cluster::Cluster::start_durable().expect("a durable private cluster");
    let pg = Postgres::open(&cluster.fresh_database().unwrap()).unwrap();
    let pool = pg.pool.clone();
    let b = Backend::new(pg);
    let t = b.open_tree("batches").unwrap();
    t.insert(b"b1", b"one").unwrap();
    assert!(!pool.awaits_flush(), "an insert is durable when answered");
    // The statement that writes sets synchronous_commit off for its own transaction alone
    // (seen here inside an open one), never for the connection.
    let c = pool.get().unwrap();
    let setting = |c: &pool::Conn| {
        wait(c.client.query_one("SHOW synchronous_commit", &[]))
            .unwrap()
            .get::<_, String>(0)
    };
    wait(c.client.batch_execute("BEGIN")).unwrap();
    let tree = "batches".to_string();
    let (k, old, new) = (b"b1".as_slice(), b"one".as_slice(), b"two".as_slice());
    let n = wait(c.client.execute(&c.st.cas_update, &[&tree, &k, &old, &new])).unwrap();
    assert_eq!((n, setting(&c).as_str()), (1, "off"));
    wait(c.client.batch_execute("ROLLBACK")).unwrap();
    assert_eq!(setting(&c), "on");
    drop(c);
    // Through the engine: kept, awaiting a flush, and on disk once flushed.
    assert!(
        t.compare_and_swap(b"b1", Some(b"one"), Some(b"two"))
            .unwrap()
    );
    assert!(pool.awaits_flush());
    let lsn = |sql: &str| {
        let c = pool.get().unwrap();
        wait(
            c.client
                .query_one(&format!("SELECT ({sql} - '0/0')::bigint"), &[]),
        )
        .unwrap()
        .get::<_, i64>(0)
    };
    let written = lsn("pg_current_wal_insert_lsn()");
    b.flush().unwrap();
    assert!(!pool.awaits_flush());
    assert!(lsn("pg_current_wal_flush_lsn()") >= written);
    assert_eq!(&*t.get(b"b1").unwrap().unwrap(), b"two");
}

#[test]
fn a_password_in_the_url_is_never_shown() {
    let t = Target::new(
        "postgresql://packline:s3cret@db.example/packline?sslmode=require",
        None,
    );
    assert!(!t.to_string().contains("s3cret"), "{t}");
    assert!(!format!("{t:?}").contains("s3cret"));
    let t = Target::new(
        "host=/run/postgresql user=packline password=s3cret dbname=p",
        None,
    );
    assert!(!t.to_string().contains("s3cret"), "{t}");
    assert!(t.to_string().contains("password=***"));
    let t = Target::new("host=db password='two words s3cret' dbname=p", None);
    assert_eq!(t.to_string(), "host=db password=*** dbname=p");
}
