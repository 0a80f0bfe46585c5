//! The configuration file: one flat TOML table whose keys are the `CHORUS_*` environment
//! variables without the prefix, in lower case (`data_dir`, `listen`, `poll_seconds`,
//! `llm_endpoint`, …).
//!
//! Precedence, highest first: command-line flags, environment variables, the file,
//! built-in defaults. The file is applied by setting the environment variables it names
//! that are not already set, before the command line is parsed, so every setting has one
//! name in all three places and one parser.

use std::path::Path;

/// Settings the file may hold (environment names without `CHORUS_`).
pub const KEYS: &[&str] = &[
    "DATA_DIR",
    "THREADS",
    "LISTEN",
    "POLL_SECONDS",
    "ALLOW_LOOPBACK",
    "USER_AGENT",
    "FETCH_TIMEOUT",
    "PER_HOST_CONCURRENCY",
    "PER_HOST_INTERVAL_MS",
    "MAX_BODY_BYTES",
    "LLM",
    "LLM_ENDPOINT",
    "LLM_MODEL",
    "LLM_API_KEY",
    "LLM_TIMEOUT",
    "LLM_RETRIES",
    "LLM_GGUF",
    "LLM_CACHE_DIR",
    "LLM_PRICE_PROMPT",
    "LLM_PRICE_COMPLETION",
    "EDITIONS",
    "LOG",
    "SECURE_COOKIES",
    "TRUST_FORWARDED",
    "WEB_THREADS",
    "PUBLIC_URL",
    "ALLOWED_HOSTS",
    "REPORT_LIMIT",
    "SEARCH_LIMIT",
    "DATABASE_URL",
    "ROLES",
    "LEASE_SECONDS",
    "SITE_SECRET",
    "EMBEDDER",
];

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// Unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value that is not a string, number or boolean.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the file into `(environment variable, value)` pairs, checking every key.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, ConfigFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Io { path: shown.clone(), source })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigFileError::Invalid { path: shown.clone(), reason: e.to_string() })?;
    let mut out = Vec::new();
    for (key, value) in table {
        let upper = key.to_ascii_uppercase();
        if !KEYS.contains(&upper.as_str()) {
            let known: Vec<String> = KEYS.iter().map(|k| k.to_ascii_lowercase()).collect();
            return Err(ConfigFileError::Invalid {
                path: shown,
                reason: format!("unknown setting {key:?}; known: {}", known.join(", ")),
            });
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigFileError::Invalid {
                    path: shown,
                    reason: format!("{key}: expected a string, number or boolean, got {}", other.type_str()),
                });
            }
        };
        out.push((format!("CHORUS_{upper}"), value));
    }
    Ok(out)
}

/// The `--config FILE` (or `--config=FILE`) argument, else `CHORUS_CONFIG`.
pub fn path_from(args: &[String]) -> Option<std::path::PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(Into::into);
        }
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v.into());
        }
    }
    std::env::var_os("CHORUS_CONFIG").map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_environment_names_and_bad_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("chorus.toml");
        std::fs::write(&p, "data_dir = \"/srv/chorus\"\npoll_seconds = 120\nallow_loopback = true\n").unwrap();
        let mut got = read(&p).unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                ("CHORUS_ALLOW_LOOPBACK".to_string(), "true".to_string()),
                ("CHORUS_DATA_DIR".into(), "/srv/chorus".into()),
                ("CHORUS_POLL_SECONDS".into(), "120".into())
            ]
        );
        std::fs::write(&p, "pol_seconds = 1\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("unknown setting \"pol_seconds\"") && e.contains("poll_seconds"), "{e}");
        std::fs::write(&p, "listen = [1]\n").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("expected a string"));
        std::fs::write(&p, "listen = \n").unwrap();
        assert!(read(&p).is_err());
        let args: Vec<String> =
            ["chorus", "run", "--config", "/etc/chorus.toml"].iter().map(|s| s.to_string()).collect();
        assert_eq!(path_from(&args), Some("/etc/chorus.toml".into()));
    }
}
