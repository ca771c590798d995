//! The integration tests, one binary with a module per area (linking the crate once): each
//! module starts real parts (the `packline` binary, the training marketplace, a store) and
//! shares its setup through `common`.

mod audit;
mod backlog;
mod cli;
mod codes;
mod common;
mod crash;
mod elsewhere;
mod fuzz;
mod json_schema;
mod labels;
mod marketplace;
mod messaging;
mod metrics;
mod mfn;
mod model;
mod postgres;
mod prints;
mod privacy;
mod quickstart;
mod records;
mod report;
mod retention;
mod retention_edges;
mod returns;
mod scale;
mod seams;
mod service;
mod shipping_v2;
mod sites;
mod spapi;
mod sync;
mod tui;
mod tui_e2e;
