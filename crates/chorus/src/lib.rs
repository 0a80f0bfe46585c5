//! chorus: the pipeline that ties the stages together, and the `chorus` binary's library.
//!
//! [`pipeline`] runs ingest → dedup → embed → cluster → synthesise over a [`Store`];
//! [`service`] runs the roles of `chorus run`; [`settings`] is the one value every part
//! is configured from; [`demo`] holds the bundled corpus. The binary (`main.rs`, one
//! file per command under `cli/`) only parses arguments into [`settings::Settings`] and
//! dispatches.
//!
//! [`Store`]: chorus_store::Store

pub mod admin;
pub mod bench;
pub mod config_file;
pub mod demo;
pub mod eval_articles;
pub mod evaluate;
pub mod live;
pub mod llm;
pub mod pipeline;
pub mod roles;
pub mod service;
pub mod settings;
