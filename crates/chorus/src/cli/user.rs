//! `chorus user`: editor accounts.

use super::args::Common;
use anyhow::{Context, Result};
use clap::Subcommand;

/// Shortest editor password accepted.
const MIN_PASSWORD_CHARS: usize = 10;

/// The `chorus user` commands.
#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an editor, or set a new password for an existing one (which ends their
    /// sessions). The password is read from the first line of standard input, so it
    /// stays out of the shell history: `printf '%s\n' "$PASSWORD" | chorus user add alice`.
    Add {
        #[command(flatten)]
        common: Common,
        /// The editor's login name.
        name: String,
    },
}

/// Runs one `chorus user` command.
pub fn run(cmd: UserCommand) -> Result<i32> {
    match cmd {
        UserCommand::Add { common, name } => {
            let settings = common.settings();
            let name = name.trim().to_string();
            if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_alphanumeric() || "._-".contains(c)) {
                anyhow::bail!("an editor name is 1–64 letters, digits, '.', '_' or '-'");
            }
            let mut password = String::new();
            std::io::stdin().read_line(&mut password).context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < MIN_PASSWORD_CHARS {
                anyhow::bail!(
                    "the password (first line of standard input) must have at least {MIN_PASSWORD_CHARS} characters"
                );
            }
            let hash = chorus_web::security::hash_password(password)?;
            let store = settings.store.open()?;
            if store.put_user(&name, &hash, chrono::Utc::now())? {
                println!("editor {name} created; log in at /editor/login");
            } else {
                println!("password of editor {name} changed; their sessions ended");
            }
            Ok(0)
        }
    }
}
