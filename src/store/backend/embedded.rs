//! sled under the store: the embedded engine of a single site.

use std::ops::Bound;
use std::sync::Arc;

use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::{Batch, Bytes, Engine, Pairs, Table, Tree, TxBody, TxError, TxTable};
use crate::store::Error;

/// A sled database as an engine.
pub struct Sled(pub sled::Db);

impl Engine for Sled {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Table>, Error> {
        Ok(Arc::new(SledTree {
            name: name.to_string(),
            tree: self.0.open_tree(name)?,
        }))
    }

    fn tree_names(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .0
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect())
    }

    fn drop_tree(&self, name: &str) -> Result<bool, Error> {
        Ok(self.0.drop_tree(name)?)
    }

    fn flush(&self) -> Result<(), Error> {
        self.0.flush()?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, Error> {
        Ok(self.0.size_on_disk()?)
    }

    fn generate_id(&self) -> Result<u64, Error> {
        Ok(self.0.generate_id()?)
    }

    fn transact(&self, trees: &[&Tree], f: &mut TxBody<'_>) -> Result<(), TxError> {
        let mut own = Vec::with_capacity(trees.len());
        for t in trees {
            match t.table().as_any().downcast_ref::<SledTree>() {
                Some(s) => own.push(s.tree.clone()),
                None => {
                    return Err(TxError::Storage(Error::Usage(format!(
                        "the tree {} is not one of this sled database's",
                        t.name()
                    ))));
                }
            }
        }
        // sled asks for a closure it may call again on a conflict; `f` is called through a
        // cell so that it can stay `FnMut` for the engines that do not retry themselves.
        let f = std::cell::RefCell::new(f);
        let r = own[..].transaction(|views: &Vec<TransactionalTree>| {
            let views: Vec<SledTx<'_>> = views.iter().map(SledTx).collect();
            let views: Vec<&dyn TxTable> = views.iter().map(|v| v as &dyn TxTable).collect();
            match (f.borrow_mut())(&views) {
                Ok(()) => Ok(()),
                Err(TxError::Conflict) => Err(ConflictableTransactionError::Conflict),
                Err(TxError::Storage(e)) | Err(TxError::Abort(e)) => {
                    Err(ConflictableTransactionError::Abort(e))
                }
            }
        });
        match r {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(TxError::Abort(e)),
            Err(TransactionError::Storage(e)) => Err(TxError::Storage(e.into())),
        }
    }
}

struct SledTree {
    name: String,
    tree: sled::Tree,
}

fn pair(r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(Bytes, Bytes), Error> {
    let (k, v) = r?;
    Ok((k.into(), v.into()))
}

impl Table for SledTree {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        Ok(self.tree.get(key)?.map(Into::into))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, Error> {
        Ok(self.tree.insert(key, value)?.map(Into::into))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Bytes>, Error> {
        Ok(self.tree.remove(key)?.map(Into::into))
    }

    fn range(&self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Pairs {
        let own = |b: Bound<&[u8]>| match b {
            Bound::Included(k) => Bound::Included(k.to_vec()),
            Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
            Bound::Unbounded => Bound::Unbounded,
        };
        Pairs::new(self.tree.range((own(from), own(to))).map(pair))
    }

    fn len(&self) -> usize {
        self.tree.len()
    }

    fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    fn apply(&self, batch: Batch) -> Result<(), Error> {
        self.tree.apply_batch(sled_batch(batch))?;
        Ok(())
    }

    fn clear(&self) -> Result<(), Error> {
        Ok(self.tree.clear()?)
    }

    fn flush(&self) -> Result<(), Error> {
        self.tree.flush()?;
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn sled_batch(batch: Batch) -> sled::Batch {
    let mut b = sled::Batch::default();
    for (k, v) in batch.ops {
        match v {
            Some(v) => b.insert(k, v),
            None => b.remove(k),
        }
    }
    b
}

struct SledTx<'a>(&'a TransactionalTree);

fn tx_err(e: UnabortableTransactionError) -> TxError {
    match e {
        UnabortableTransactionError::Conflict => TxError::Conflict,
        UnabortableTransactionError::Storage(e) => TxError::Storage(e.into()),
    }
}

impl TxTable for SledTx<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Bytes>, TxError> {
        Ok(self.0.get(key).map_err(tx_err)?.map(Into::into))
    }

    fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, TxError> {
        Ok(self.0.insert(key, value).map_err(tx_err)?.map(Into::into))
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Bytes>, TxError> {
        Ok(self.0.remove(key).map_err(tx_err)?.map(Into::into))
    }
}
