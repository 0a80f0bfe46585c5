//! `chorus eval`: quality measured on labelled data, one file per measurement.

mod articles;
mod cluster;
mod extract;
mod synth;
mod translations;

use clap::Subcommand;

/// The `chorus eval` commands.
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Extract the article from every page of an evaluation folder (the article-extraction
    /// benchmark, or trafilatura's evaluation set with `evaldata.json`) with the product's
    /// extractor and print precision, recall, F1 and pages/s.
    Extract(extract::ExtractArgs),
    /// Read every written edition of a data folder and print how the articles read:
    /// redundant sentence pairs, share of sentences in the edition's language, cut-off
    /// headlines, words by independent reports, disagreements per story.
    Articles(articles::ArticlesArgs),
    /// Calibrate the cross-lingual threshold: cosines of Global Voices sentences and their
    /// translations against same-topic sentences that are not translations.
    Translations(translations::TranslationsArgs),
    /// Write an article per story with the product's synthesiser and print ROUGE-1/2/L F1
    /// against the references, the share of sentences traced to their sources, mean
    /// length and speed.
    Synth(synth::SynthArgs),
    /// Cluster a labelled JSONL file with the product's clusterer and print pairwise and
    /// BCubed scores, per language, cross-lingual pair recall and speed.
    Cluster(cluster::ClusterArgs),
}

impl EvalCommand {
    /// Inference threads asked for (the commands that run the model).
    pub fn threads(&self) -> Option<usize> {
        match self {
            EvalCommand::Cluster(a) => Some(a.threads),
            EvalCommand::Synth(a) => Some(a.threads),
            EvalCommand::Articles(a) => Some(a.threads),
            _ => None,
        }
    }
}

/// Runs one `chorus eval` command.
pub fn run(cmd: EvalCommand) -> anyhow::Result<i32> {
    match cmd {
        EvalCommand::Extract(a) => extract::run(a),
        EvalCommand::Articles(a) => articles::run(a),
        EvalCommand::Translations(a) => translations::run(a),
        EvalCommand::Synth(a) => synth::run(a),
        EvalCommand::Cluster(a) => cluster::run(a),
    }
}
