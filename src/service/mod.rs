//! The service: the code that ties the store and Amazon together. For now, the sync loop.

pub mod sync;
