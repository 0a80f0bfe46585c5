//! Test support: a fresh, empty PostgreSQL database per test, on a real server.
//!
//! The server is the one `CHORUS_TEST_POSTGRES_URL` names (an address whose user may
//! create databases, e.g. `postgres://root@127.0.0.1:5432/postgres`); without it, a
//! throwaway cluster is started once per test process from Debian's `postgresql` package
//! (`initdb` + `pg_ctl` on a free port, in a temporary folder, stopped when the process
//! ends). With neither, the PostgreSQL tests say loudly that they were skipped — and fail
//! instead when `CI` is set, so CI never skips them silently.

use crate::{PgStore, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// An empty database, dropped when this value is.
pub struct TestDatabase {
    admin: String,
    name: String,
    /// Address of the database.
    pub url: String,
}

static SERVER: OnceLock<std::result::Result<String, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// A new empty database, or `None` (with a loud message on standard error) when no
    /// PostgreSQL server can be had. Panics under `CI` instead of skipping.
    pub fn create() -> Option<TestDatabase> {
        let admin = match SERVER.get_or_init(server) {
            Ok(a) => a.clone(),
            Err(why) => {
                let msg = format!(
                    "!!! PostgreSQL tests SKIPPED: {why}. Set CHORUS_TEST_POSTGRES_URL or install Debian's \
                     postgresql package (scripts/setup-system.sh does)."
                );
                if std::env::var_os("CI").is_some() {
                    panic!("{msg} (CI is set: PostgreSQL tests must run)");
                }
                eprintln!("{msg}");
                return None;
            }
        };
        let name = format!(
            "chorus_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
        );
        let ok = crate::pg::off_runtime(|| -> std::result::Result<(), String> {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls).map_err(|e| e.to_string())?;
            c.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| e.to_string())
        });
        if let Err(e) = ok {
            panic!("creating test database {name} on {}: {e}", crate::redact(&admin));
        }
        let url = with_database(&admin, &name);
        Some(TestDatabase { admin, name, url })
    }

    /// Opens a store on this database (migrations applied).
    pub fn store(&self) -> Result<PgStore> {
        PgStore::connect_with(&self.url, 4)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        crate::pg::off_runtime(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}

/// `admin` with its database replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    match url::Url::parse(admin) {
        Ok(mut u) => {
            u.set_path(&format!("/{name}"));
            u.to_string()
        }
        Err(_) => format!("{admin} dbname={name}"),
    }
}

/// The admin address of the server the tests use, starting a throwaway one if needed.
fn server() -> std::result::Result<String, String> {
    if let Ok(url) = std::env::var("CHORUS_TEST_POSTGRES_URL")
        && !url.trim().is_empty()
    {
        return Ok(url);
    }
    let bin = find_bin_dir().ok_or("CHORUS_TEST_POSTGRES_URL is not set and no initdb was found")?;
    throwaway_cluster(&bin)
}

fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// Starts a cluster in a temporary folder on a free port; a watchdog stops it and
/// removes the folder when this process ends. As root, the server runs as `postgres`
/// (PostgreSQL refuses to run as root).
fn throwaway_cluster(bin: &Path) -> std::result::Result<String, String> {
    let dir = std::env::temp_dir().join(format!("chorus-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let as_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let run = |program: &str, args: &[&str]| -> std::result::Result<(), String> {
        let mut cmd = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(program));
            c
        } else {
            Command::new(bin.join(program))
        };
        let out = cmd.args(args).output().map_err(|e| format!("running {program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{program} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    };
    if as_root {
        let _ = Command::new("chown").args(["-R", "postgres"]).arg(&dir).status();
    }
    let data = dir.join("data");
    let data_s = data.to_string_lossy().to_string();
    let dir_s = dir.to_string_lossy().to_string();
    run("initdb", &["-D", &data_s, "-A", "trust", "-U", "chorus", "-E", "UTF8", "--no-sync"])?;
    let opts = format!("-p {port} -k {dir_s} -c listen_addresses=127.0.0.1 -c fsync=off");
    run("pg_ctl", &["-D", &data_s, "-o", &opts, "-l", &format!("{dir_s}/log"), "-w", "start"])?;
    // The watchdog: when the test process is gone, stop the server and remove its folder.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -D {data_s} -m immediate stop >/dev/null 2>&1; rm -rf {dir_s}",
        pid = std::process::id(),
        runas = if as_root { "runuser -u postgres -- " } else { "" },
        pg_ctl = bin.join("pg_ctl").display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the cluster's watchdog: {e}"))?;
    eprintln!("chorus-store tests: started a throwaway PostgreSQL cluster on 127.0.0.1:{port} ({})", dir.display());
    Ok(format!("postgres://chorus@127.0.0.1:{port}/postgres"))
}
