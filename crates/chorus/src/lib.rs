//! chorus: the pipeline that ties the stages together, and the `chorus` binary's library.
//!
//! [`pipeline`] runs ingest → dedup → embed → cluster → synthesise over a [`Store`];
//! [`demo`] runs it on the bundled corpus; `main.rs` is only argument parsing.
//!
//! [`Store`]: chorus_store::Store

pub mod admin;
pub mod bench;
pub mod config;
pub mod config_file;
pub mod demo;
pub mod eval_articles;
pub mod evaluate;
pub mod live;
pub mod llm;
pub mod pipeline;
pub mod roles;
