//! `chorus dataset`: the shared research data turned into evaluation files.

use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

/// The `chorus dataset` commands.
#[derive(Subcommand)]
pub enum DatasetCommand {
    /// NeuS/AllSides roundups for `chorus eval synth`: each line's three articles as the
    /// sources, the editors' neutral roundup as the reference.
    NeusSynth {
        /// `train` or `val`.
        #[arg(long, default_value = "val")]
        split: String,
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
    /// NeuS/AllSides roundups: each 3-article roundup is one gold story (seeded shuffle).
    Neus {
        /// `train` or `val`.
        #[arg(long, default_value = "val")]
        split: String,
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
    /// ITN development blurbs: subject QID split into events at gaps over 7 days.
    Itn {
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Days between consecutive blurbs that start a new event.
        #[arg(long, default_value_t = 7.0)]
        gap_days: f64,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
    /// ML-Crisis articles labelled by topic (coarse: report, do not tune).
    Crisis {
        /// Shared data folder.
        #[arg(long, default_value = "../shared/data")]
        shared_data: PathBuf,
        /// Output JSONL file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs one `chorus dataset` command.
pub fn run(cmd: DatasetCommand) -> Result<i32> {
    match cmd {
        DatasetCommand::NeusSynth { split, shared_data, out } => {
            let stories = chorus_eval::datasets::neus_synth(&shared_data.join("neus-allsides"), &split)?;
            let mut text = String::new();
            for s in &stories {
                text.push_str(&serde_json::to_string(s)?);
                text.push('\n');
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            let sources: usize = stories.iter().map(|s| s.sources.len()).sum();
            println!("wrote {} stories with {sources} sources to {}", stories.len(), out.display());
            Ok(0)
        }
        cmd => {
            let (articles, out) = match cmd {
                DatasetCommand::Neus { split, shared_data, out } => {
                    (chorus_eval::datasets::neus(&shared_data.join("neus-allsides"), &split)?, out)
                }
                DatasetCommand::Itn { shared_data, gap_days, out } => {
                    (chorus_eval::datasets::itn(&shared_data.join("itn-corpus"), gap_days)?, out)
                }
                DatasetCommand::Crisis { shared_data, out } => {
                    (chorus_eval::datasets::crisis(&shared_data.join("ml-crisis-cl-tls"))?, out)
                }
                DatasetCommand::NeusSynth { .. } => unreachable!("handled above"),
            };
            let mut text = String::new();
            for a in &articles {
                text.push_str(&serde_json::to_string(a)?);
                text.push('\n');
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            let clusters: std::collections::BTreeSet<&str> = articles.iter().map(|a| a.cluster.as_str()).collect();
            println!("wrote {} articles in {} gold clusters to {}", articles.len(), clusters.len(), out.display());
            Ok(0)
        }
    }
}
