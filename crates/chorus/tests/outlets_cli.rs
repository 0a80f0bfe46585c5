//! `chorus outlet` and `chorus feeds` against a fresh data folder.

fn chorus(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("chorus runs")
}

#[test]
fn registry_import_opml_round_trip_and_bad_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let out = chorus(&data, &["outlet", "import"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = chorus(&data, &["outlet", "list", "--json"]);
    let outlets: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).expect("JSON list");
    assert!(outlets.len() >= 30);
    assert!(outlets.iter().any(|o| o["name"] == "Anadolu Agency" && o["type"] == "state" && o["country"] == "TR"));

    // Export, then import into another folder: the same feeds come back.
    let opml = tmp.path().join("export.opml");
    assert!(chorus(&data, &["feeds", "export", "--out", opml.to_str().unwrap_or_default()]).status.success());
    let other = tmp.path().join("other");
    let imported = chorus(&other, &["feeds", "import", opml.to_str().unwrap_or_default()]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let feeds = |v: &[serde_json::Value]| {
        let mut f: Vec<String> = v
            .iter()
            .flat_map(|o| o["feeds"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(String::from))
            .collect();
        f.sort();
        f
    };
    let again: Vec<serde_json::Value> =
        serde_json::from_slice(&chorus(&other, &["outlet", "list", "--json"]).stdout).expect("JSON list");
    assert_eq!(feeds(&again), feeds(&outlets));

    // A broken registry imports nothing and says what is wrong where.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[outlet]]\nname = \"X\"\nhomepage = \"x\"\ncountry = \"XX\"\nlanguages = [\"xx\"]\ntype = \"blog\"\n",
    )
    .expect("write");
    let fresh = tmp.path().join("fresh");
    let refused = chorus(&fresh, &["outlet", "import", bad.to_str().unwrap_or_default()]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("bad.toml") && err.contains("homepage") && err.contains("\"blog\""), "{err}");
    let none: Vec<serde_json::Value> =
        serde_json::from_slice(&chorus(&fresh, &["outlet", "list", "--json"]).stdout).expect("JSON list");
    assert!(none.is_empty());
}

#[test]
fn a_config_file_sets_defaults_that_flags_and_environment_override() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let from_file = tmp.path().join("from-file");
    let cfg = tmp.path().join("chorus.toml");
    std::fs::write(&cfg, format!("data_dir = {:?}\npoll_seconds = 120\n", from_file.display().to_string()))
        .expect("write");
    let run = |args: &[&str], env: Option<(&str, &std::path::Path)>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_chorus"));
        c.args(args).env_remove("CHORUS_DATA_DIR").env_remove("CHORUS_CONFIG");
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().expect("chorus runs")
    };
    let cfg_s = cfg.to_str().unwrap_or_default();
    assert!(run(&["--config", cfg_s, "outlet", "import"], None).status.success());
    assert!(from_file.join("chorus.db").exists(), "the file's data_dir was used");
    let by_flag = tmp.path().join("by-flag");
    let flag_s = by_flag.to_str().unwrap_or_default();
    assert!(run(&["outlet", "import", "--config", cfg_s, "--data-dir", flag_s], None).status.success());
    assert!(by_flag.join("chorus.db").exists(), "a flag beats the file");
    let by_env = tmp.path().join("by-env");
    assert!(run(&["outlet", "import", "--config", cfg_s], Some(("CHORUS_DATA_DIR", &by_env))).status.success());
    assert!(by_env.join("chorus.db").exists(), "the environment beats the file");
    std::fs::write(&cfg, "data_dri = \"/x\"\n").expect("write");
    let bad = run(&["--config", cfg_s, "outlet", "list"], None);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown setting \"data_dri\""));
}
