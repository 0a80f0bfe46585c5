//! The service's roles, so that any mix of processes on any machines can share one
//! database: `fetch` (poll feeds, re-check sources), `embed` (vectors of new articles),
//! `cluster` (place articles in stories; one leader at a time), `write` (write changed
//! stories) and `web` (serve the site). Work is claimed from the store with a lease, so
//! two processes never do the same item and a dead process's items are done by another
//! once its lease has run out.

use crate::pipeline::{self, PipelineError, SynthReport};
use chorus_embed::Embedder;
use chorus_store::{Store, Work};
use chorus_synth::SynthConfig;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// One role of a `chorus run` process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Poll due feeds, fetch and extract pages, re-check sources.
    Fetch,
    /// Embed articles that have no vector yet.
    Embed,
    /// Place embedded articles in stories (only the leader), and relate stories.
    Cluster,
    /// Write the stories whose sources changed.
    Write,
    /// Serve the site and the API.
    Web,
}

impl Role {
    /// Every role, in pipeline order.
    pub const ALL: [Role; 5] = [Role::Fetch, Role::Embed, Role::Cluster, Role::Write, Role::Web];

    /// The role's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Fetch => "fetch",
            Role::Embed => "embed",
            Role::Cluster => "cluster",
            Role::Write => "write",
            Role::Web => "web",
        }
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}: roles are fetch, embed, cluster, write and web")]
pub struct UnknownRole(String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// The roles one process plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(pub BTreeSet<Role>);

impl Roles {
    /// Every role (one process does everything).
    pub fn all() -> Roles {
        Roles(Role::ALL.into_iter().collect())
    }

    /// Whether this process plays `role`.
    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// Whether any role of the pipeline (not web) is played.
    pub fn any_pipeline(&self) -> bool {
        self.0.iter().any(|r| *r != Role::Web)
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// This process's name in leases: host name and process id.
pub fn worker_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".into());
        format!("{host}:{}", std::process::id())
    })
    .clone()
}

/// How this process claims work: its name, how long a claim holds and how much one takes.
#[derive(Debug, Clone)]
pub struct Claims {
    /// This process's name in leases.
    pub worker: String,
    /// How long an embedding claim is reserved (a batch takes seconds).
    pub embed_lease: chrono::Duration,
    /// How long a story claim is reserved (a story with a model writer can take minutes).
    pub write_lease: chrono::Duration,
    /// Articles one embedding claim takes.
    pub embed_batch: usize,
    /// Stories one writing claim takes.
    pub write_batch: usize,
}

impl Default for Claims {
    fn default() -> Claims {
        Claims {
            worker: worker_id(),
            embed_lease: chrono::Duration::minutes(5),
            write_lease: chrono::Duration::minutes(15),
            embed_batch: 64,
            write_batch: 8,
        }
    }
}

/// Claims a batch of articles without a vector, embeds and stores them, and gives the
/// claim back. Copies take their original's vector when it is stored. Returns how many
/// articles got a vector (0: nothing left to claim).
pub fn embed_claimed(
    store: &dyn Store,
    embedder: &dyn Embedder,
    lead_chars: usize,
    claims: &Claims,
) -> Result<usize, PipelineError> {
    let model = embedder.model_id();
    let claimed = store.claim_unembedded(model, &claims.worker, claims.embed_lease, claims.embed_batch)?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = claimed.iter().map(|r| r.article.id.clone()).collect();
    pipeline::embed_and_store(store, embedder, lead_chars, &claimed.iter().collect::<Vec<_>>())?;
    store.release(Work::Embed, &claims.worker, &keys)?;
    Ok(claimed.len())
}

/// Claims a batch of dirty stories, writes each and gives the claims back. A story that
/// fails stays claimed until its lease runs out (then another process tries it).
/// Returns how many stories were claimed (0: nothing left to claim).
pub fn write_claimed(
    store: &dyn Store,
    embedder: &dyn Embedder,
    config: &SynthConfig,
    stage: Option<&crate::llm::LlmStage>,
    claims: &Claims,
    report: &mut SynthReport,
) -> Result<usize, PipelineError> {
    let claimed = store.claim_dirty_stories(&claims.worker, claims.write_lease, claims.write_batch)?;
    let now = chrono::Utc::now();
    pipeline::write_stories(store, embedder, config, stage, &claimed, now, report, |mark| {
        store.release(Work::Write, &claims.worker, &[mark.id.to_string()])?;
        Ok(())
    })?;
    Ok(claimed.len())
}
