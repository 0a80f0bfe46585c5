//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The research data folder: `$CHORUS_SHARED_DATA`, else `../shared/data` beside the repo.
pub fn shared_data() -> PathBuf {
    std::env::var_os("CHORUS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}
