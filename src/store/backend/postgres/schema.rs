//! The tables packline keeps in PostgreSQL, created by the first connection that finds them
//! missing (docs/postgres.md describes them). Their layout has a version of its own
//! (`packline.layout`), apart from the store's schema version (`meta/schema`), which says how the
//! records inside are written: a database laid out by a newer packline is refused, not read.

use tokio_postgres::Client;

use super::calls::{error, wait};
use crate::store::Error;

/// The version of the tables' layout this packline writes and reads.
pub const LAYOUT: i32 = 1;

/// Any number, the same in every packline: the lock that keeps two processes from creating the
/// tables at once.
const CREATE_LOCK: i64 = 0x7061_636b_6c69_6e65; // "packline"

const CREATE: &str = "
CREATE SCHEMA IF NOT EXISTS packline;
CREATE TABLE IF NOT EXISTS packline.layout (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS packline.trees (name text COLLATE \"C\" PRIMARY KEY);
CREATE TABLE IF NOT EXISTS packline.kv (
    tree text COLLATE \"C\" NOT NULL,
    k bytea NOT NULL,
    v bytea NOT NULL,
    PRIMARY KEY (tree, k)
);
-- Values are mostly ciphertext, which does not compress: kept as written.
ALTER TABLE packline.kv ALTER COLUMN v SET STORAGE EXTERNAL;
CREATE SEQUENCE IF NOT EXISTS packline.ids;
";

/// The tables made when missing, and their layout checked.
pub(super) fn ensure(c: &Client) -> Result<(), Error> {
    let found = layout(c)?;
    let found = match found {
        Some(v) => v,
        None => wait(async {
            // Serializable is the connection's default; making tables needs no more than this.
            c.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
                .await?;
            let r = async {
                c.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])
                    .await?;
                c.batch_execute(CREATE).await?;
                let row = c
                    .query_opt("SELECT version FROM packline.layout", &[])
                    .await?;
                let v = match row {
                    Some(r) => r.get::<_, i32>(0),
                    None => {
                        c.execute(
                            "INSERT INTO packline.layout (version) VALUES ($1)",
                            &[&LAYOUT],
                        )
                        .await?;
                        LAYOUT
                    }
                };
                Ok::<_, tokio_postgres::Error>(v)
            }
            .await;
            match r {
                Ok(v) => {
                    c.batch_execute("COMMIT").await?;
                    Ok(v)
                }
                Err(e) => {
                    let _ = c.batch_execute("ROLLBACK").await;
                    Err(e)
                }
            }
        })
        .map_err(error)?,
    };
    if found > LAYOUT {
        return Err(Error::Database(format!(
            "the database's packline tables are laid out in version {found}, and this packline \
             reads up to version {LAYOUT}: run the newer packline that laid them out"
        )));
    }
    Ok(())
}

/// The layout version recorded, when the tables exist.
fn layout(c: &Client) -> Result<Option<i32>, Error> {
    wait(async {
        let exists = c
            .query_one("SELECT to_regclass('packline.layout') IS NOT NULL", &[])
            .await?
            .get::<_, bool>(0);
        if !exists {
            return Ok(None);
        }
        Ok(c.query_opt("SELECT version FROM packline.layout", &[])
            .await?
            .map(|r| r.get::<_, i32>(0)))
    })
    .map_err(error)
}
