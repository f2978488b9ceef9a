use super::*;
use std::collections::HashMap;

fn default_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml")
}

fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load_from(&default_file(), |k| map.get(k).cloned())
}

/// Loads with `text` as the `KAKUNIN_CONFIG` file `site.toml`.
fn load_site(text: &str) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("site.toml");
    std::fs::write(&extra, text).unwrap();
    load(&[("KAKUNIN_CONFIG", extra.to_str().unwrap())])
}

/// The file, line and key of a file error, and its message.
fn in_file(e: ConfigError) -> (String, Option<usize>, Option<String>, String) {
    let shown = e.to_string();
    match e {
        ConfigError::File {
            file, line, key, ..
        } => (file, line, key, shown),
        other => panic!("expected a file error, got {other}"),
    }
}

/// A mistyped scheme stops the start naming the setting, instead of becoming a new
/// SQLite file of that odd name; the rest of the URL (a password) is never shown.
#[test]
fn a_database_url_of_another_scheme_is_refused() {
    for url in [
        "postgre://kakunin:s3cret@db.example/kakunin",
        "mysql://x",
        "jdbc:postgresql://kakunin:s3cret@db.example/kakunin",
        "postgres:/kakunin:s3cret@db.example/kakunin",
        "postgres:kakunin:s3cret@db.example",
        "Postgres://kakunin:s3cret@db.example/kakunin",
    ] {
        let e = load(&[("KAKUNIN_DATABASE_URL", url)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("KAKUNIN_DATABASE_URL"), "{e}");
        assert!(e.contains("は使えません"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
    // libpq's keyword form would have become a SQLite file named after its password.
    for url in [
        "host=127.0.0.1 port=1 password=s3cret",
        "dbname=kakunin user=kakunin",
        "  PASSWORD=s3cret",
    ] {
        let e = load(&[("KAKUNIN_DATABASE_URL", url)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("KAKUNIN_DATABASE_URL"), "{e}");
        assert!(e.contains("libpq のキーワード形式"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
    for url in [
        "data/kakunin.db",
        "data/a=b.db",
        "sqlite://data/kakunin.db",
        "postgres://kakunin@db.example/kakunin",
        "postgresql://kakunin@db.example/kakunin",
        "file:kakunin.db?mode=rwc",
    ] {
        assert_eq!(
            load(&[("KAKUNIN_DATABASE_URL", url)]).unwrap().database.url,
            url
        );
    }
}

#[test]
fn defaults_match_service_md() {
    let s = load(&[]).unwrap();
    assert_eq!(s.database.url, "data/kakunin.db");
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.issuers.file, PathBuf::from("config/issuers.toml"));
    assert_eq!(s.rules.profile, "oita");
    assert_eq!(s.log.filter, "info");
    assert!(s.secret_key.is_none());
}

#[test]
fn variables_override_files() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("site.toml");
    std::fs::write(
        &extra,
        "[server]\nbind = \"127.0.0.1:9000\"\n[lockout]\nnot_found_limit = 3\n",
    )
    .unwrap();
    let s = load(&[
        ("KAKUNIN_CONFIG", extra.to_str().unwrap()),
        ("KAKUNIN_DATABASE_URL", "/tmp/x.db"),
        ("KAKUNIN_BIND", "127.0.0.1:9100"),
        ("KAKUNIN_SECRET_KEY", &"a".repeat(64)),
    ])
    .unwrap();
    assert_eq!(s.database.url, "/tmp/x.db");
    assert_eq!(s.server.bind, "127.0.0.1:9100");
    assert_eq!(s.lockout.not_found_limit, 3);
    assert_eq!(s.lockout.window_minutes, 15, "unset keys keep the default");
    assert!(!format!("{:?}", s).contains("aaaa"));
}

#[test]
fn every_variable_sets_its_setting_as_written() {
    let s = load(&[
        ("KAKUNIN_DATABASE_URL", "123"),
        ("KAKUNIN_BIND", "[::1]:0"),
        ("KAKUNIN_ISSUERS_FILE", "/etc/kakunin/issuers.toml"),
        ("KAKUNIN_PROFILE", "oita_2026"),
        ("KAKUNIN_LOG", "warn,kakunin=debug"),
        ("KAKUNIN_AUDIT_SIGNING_KEY_FILE", "/etc/kakunin/audit.key"),
    ])
    .unwrap();
    assert_eq!(s.database.url, "123", "a number-like value stays text");
    assert_eq!(s.server.bind, "[::1]:0");
    assert_eq!(s.issuers.file, PathBuf::from("/etc/kakunin/issuers.toml"));
    assert_eq!(s.rules.profile, "oita_2026");
    assert_eq!(s.log.filter, "warn,kakunin=debug");
    assert_eq!(
        s.audit.signing_key_file,
        PathBuf::from("/etc/kakunin/audit.key")
    );
}

#[test]
fn other_kakunin_variables_are_not_settings() {
    // Issuer tokens and prefix-shaped names that figment's `Env::prefixed` would take.
    let s = load(&[
        ("KAKUNIN_TOKEN_WJCS", "not-a-setting"),
        ("KAKUNIN_LOCKOUT_NOT_FOUND_LIMIT", "0"),
        ("KAKUNIN_SERVER__BIND", "nowhere"),
        ("KAKUNIN_API", "x"),
    ])
    .unwrap();
    assert_eq!(s.lockout.not_found_limit, 5);
    assert_eq!(s.server.bind, "127.0.0.1:8080");
}

#[test]
fn the_embedded_defaults_stand_in_for_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::load_from(&dir.path().join("absent.toml"), |_| None).unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.api.batch_concurrency, 16);
}

#[test]
fn secret_rules_are_enforced() {
    let e = load(&[("KAKUNIN_SECRET_KEY", "short")]).unwrap_err();
    assert!(e.to_string().contains("32文字"), "{e}");
    assert!(
        !e.to_string().contains("short"),
        "the secret is not echoed: {e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("secret");
    std::fs::write(&f, format!("{}\n", "b".repeat(64))).unwrap();
    // Readable by others (mode 644): refused, saying the fix.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = load(&[("KAKUNIN_SECRET_KEY_FILE", f.to_str().unwrap())]).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.starts_with("環境変数 KAKUNIN_SECRET_KEY_FILE: ")
            && shown.contains("モード 644")
            && shown.contains(&format!("chmod o-rwx {}", f.display())),
        "{shown}"
    );
    // Readable by the service's group (root-owned, 0640 or 0440): how an operator
    // hands a secret to a service account, and taken.
    for mode in [0o640, 0o440] {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        assert!(
            load(&[("KAKUNIN_SECRET_KEY_FILE", f.to_str().unwrap())]).is_ok(),
            "{mode:o}"
        );
    }
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = load(&[("KAKUNIN_SECRET_KEY_FILE", f.to_str().unwrap())]).unwrap();
    assert_eq!(
        s.secret_key.unwrap().expose_secret(),
        "b".repeat(64).as_bytes()
    );
    let e = load(&[
        ("KAKUNIN_SECRET_KEY_FILE", f.to_str().unwrap()),
        ("KAKUNIN_SECRET_KEY", &"c".repeat(64)),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("両方"), "{e}");
    let e = load(&[("KAKUNIN_SECRET_KEY_FILE", "/nonexistent/secret")]).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Env {
                var: "KAKUNIN_SECRET_KEY_FILE",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn debug_never_shows_the_secret_key() {
    let secret = "s3cr3t-".repeat(8);
    let s = load(&[("KAKUNIN_SECRET_KEY", &secret)]).unwrap();
    let shown = format!("{s:?} {:?} {:#?}", s.secret_key, s);
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(
        shown.contains("REDACTED"),
        "the key is there, hidden: {shown}"
    );
    assert!(!format!("{:?}", SecretKey::demo()).contains("demo-secret"));
}

#[test]
fn bad_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("site.toml");
    std::fs::write(&extra, "[server]\nbind = \"x\"\nsecure_cookies = yes\n").unwrap();
    let e = load(&[("KAKUNIN_CONFIG", extra.to_str().unwrap())]).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("site.toml:3"), "{msg}");
    let e = load(&[("KAKUNIN_BIND", "nowhere")]).unwrap_err();
    assert!(e.to_string().contains("KAKUNIN_BIND"));
}

#[test]
fn an_unreadable_config_file_is_named() {
    let e = load(&[("KAKUNIN_CONFIG", "/nonexistent/site.toml")]).unwrap_err();
    let (file, line, _, msg) = in_file(e);
    assert_eq!(file, "/nonexistent/site.toml");
    assert_eq!(line, None);
    assert!(msg.contains("読み込めません"), "{msg}");
}

#[test]
fn a_bad_value_in_the_default_file_names_that_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("default.toml");
    let text = std::fs::read_to_string(default_file())
        .unwrap()
        .replace("timeout_ms = 5000", "timeout_ms = \"5 s\"");
    let line = text
        .lines()
        .position(|l| l.starts_with("timeout_ms"))
        .unwrap()
        + 1;
    std::fs::write(&default, text).unwrap();
    let e = Settings::load_from(&default, |_| None).unwrap_err();
    let (file, at, key, msg) = in_file(e);
    assert_eq!(file, default.display().to_string());
    assert_eq!(at, Some(line));
    assert_eq!(key.as_deref(), Some("issuers.timeout_ms"));
    assert!(
        msg.contains(&format!("default.toml:{line}: issuers.timeout_ms")),
        "{msg}"
    );
    assert!(msg.contains("「5 s」"), "says what it found: {msg}");
}

#[test]
fn a_bad_value_in_the_config_file_names_that_file_key_and_line() {
    let e = load_site("# site settings\n\n[lockout]\nwindow_minutes = \"15\"\n").unwrap_err();
    let (file, line, key, msg) = in_file(e);
    assert!(file.ends_with("site.toml"), "{file}");
    assert_eq!(line, Some(4));
    assert_eq!(key.as_deref(), Some("lockout.window_minutes"));
    assert!(
        msg.contains("1 以上 10080 以下"),
        "says what it takes: {msg}"
    );

    let e = load_site("[server]\nsecure_cookies = \"yes\"\n").unwrap_err();
    let (_, line, key, msg) = in_file(e);
    assert_eq!(
        (line, key.as_deref()),
        (Some(2), Some("server.secure_cookies"))
    );
    assert!(msg.contains("true か false"), "{msg}");

    // Dotted keys and inline tables are found too.
    let e = load_site("api = { rate_per_minute = 60, batch_concurrency = 0 }\n").unwrap_err();
    let (_, line, key, _) = in_file(e);
    assert_eq!(
        (line, key.as_deref()),
        (Some(1), Some("api.batch_concurrency"))
    );
    let e = load_site("\nsignin.max_failures = -3\n").unwrap_err();
    let (_, line, key, msg) = in_file(e);
    assert_eq!(
        (line, key.as_deref()),
        (Some(2), Some("signin.max_failures"))
    );
    assert!(msg.contains("（-3でした）"), "{msg}");
}

#[test]
fn a_bad_value_from_a_variable_names_the_variable() {
    for (var, value) in [
        ("KAKUNIN_BIND", "nowhere"),
        ("KAKUNIN_BIND", ""),
        ("KAKUNIN_PROFILE", "../../etc/passwd"),
        ("KAKUNIN_PROFILE", ""),
        ("KAKUNIN_LOG", "[[["),
        ("KAKUNIN_LOG", "kakunin=loud"),
    ] {
        match load(&[(var, value)]).unwrap_err() {
            ConfigError::Env {
                var: named,
                message,
            } => {
                assert_eq!(named, var, "{message}");
                assert!(message.contains(&format!("「{value}」")), "{message}");
            }
            other => panic!("{var}={value}: {other}"),
        }
    }
}

#[test]
fn a_bad_address_or_profile_in_a_file_names_the_file_not_a_variable() {
    let e = load_site("[server]\nbind = \"localhost\"\n").unwrap_err();
    let (_, line, key, msg) = in_file(e);
    assert_eq!((line, key.as_deref()), (Some(2), Some("server.bind")));
    assert!(
        msg.contains("127.0.0.1:8080"),
        "says how it should look: {msg}"
    );
    let e = load_site("[rules]\n\nprofile = \"oita/2026\"\n").unwrap_err();
    let (_, line, key, _) = in_file(e);
    assert_eq!((line, key.as_deref()), (Some(3), Some("rules.profile")));
}

#[test]
fn unknown_keys_are_refused_with_file_line_and_key() {
    let e =
        load_site("[server]\nbind = \"127.0.0.1:9000\"\nbnd = \"127.0.0.1:9001\"\n").unwrap_err();
    let (file, line, key, msg) = in_file(e);
    assert!(file.ends_with("site.toml"), "the file that has it: {file}");
    assert_eq!((line, key.as_deref()), (Some(3), Some("server.bnd")));
    assert!(msg.contains("bind"), "lists the keys it could be: {msg}");

    let e = load_site("[lockouts]\nnot_found_limit = 3\n").unwrap_err();
    let (_, line, key, _) = in_file(e);
    assert_eq!((line, key.as_deref()), (Some(1), Some("lockouts")));
}

#[test]
fn every_range_is_checked_at_both_ends() {
    for r in &RANGES {
        let (section, name) = r.key.split_once('.').unwrap();
        let site = |v: i64| format!("[{section}]\n{name} = {v}\n");
        for ok in [r.min, r.max] {
            load_site(&site(ok)).unwrap_or_else(|e| panic!("{} = {ok}: {e}", r.key));
        }
        for bad in [r.min - 1, r.max + 1] {
            let e = load_site(&site(bad)).unwrap_err();
            let (_, line, key, msg) = in_file(e);
            assert_eq!(key.as_deref(), Some(r.key), "{msg}");
            assert_eq!(line, Some(2), "{msg}");
            assert!(
                msg.contains(&format!("{} 以上 {} 以下", r.min, r.max))
                    && msg.contains(&format!("（{bad}でした）")),
                "names the range and the value: {msg}"
            );
        }
    }
}

#[test]
fn the_ranges_the_issue_names_are_refused() {
    for (site, key) in [
        (
            "[lockout]\nnot_found_limit = 0\n",
            "lockout.not_found_limit",
        ),
        ("[lockout]\nwindow_minutes = 0\n", "lockout.window_minutes"),
        ("[lockout]\nlock_minutes = 0\n", "lockout.lock_minutes"),
        (
            "[issuers]\nconnect_timeout_ms = 0\n",
            "issuers.connect_timeout_ms",
        ),
        ("[issuers]\ntimeout_ms = 86400000\n", "issuers.timeout_ms"),
        ("[api]\nbatch_concurrency = 0\n", "api.batch_concurrency"),
        ("[api]\nbatch_concurrency = 1001\n", "api.batch_concurrency"),
        ("[api]\nrate_per_minute = 0\n", "api.rate_per_minute"),
        (
            "[server]\nsession_idle_minutes = 0\n",
            "server.session_idle_minutes",
        ),
        ("[signin]\nmax_failures = 0\n", "signin.max_failures"),
        ("[signin]\nwindow_minutes = 0\n", "signin.window_minutes"),
        ("[audit]\ncheckpoint_every = 0\n", "audit.checkpoint_every"),
        (
            "[audit]\ncheckpoint_max_age_minutes = 0\n",
            "audit.checkpoint_max_age_minutes",
        ),
    ] {
        let e = load_site(site).unwrap_err();
        let (_, _, named, msg) = in_file(e);
        assert_eq!(named.as_deref(), Some(key), "{msg}");
    }
}

#[test]
fn a_negative_or_fractional_count_gets_the_range_message() {
    // u32 and usize settings: serde refuses these before the range check would.
    for (site, found) in [
        ("[api]\nrate_per_minute = -1\n", "（-1でした）"),
        ("[api]\nbatch_concurrency = 2.5\n", "（2.5でした）"),
    ] {
        let (_, line, _, msg) = in_file(load_site(site).unwrap_err());
        assert_eq!(line, Some(2));
        assert!(msg.contains("以上") && msg.contains(found), "{msg}");
    }
}

#[test]
fn every_number_in_the_defaults_has_a_range() {
    let table: toml::Table = std::fs::read_to_string(default_file())
        .unwrap()
        .parse()
        .unwrap();
    for (section, keys) in &table {
        for (name, value) in keys.as_table().unwrap() {
            if value.is_integer() || value.is_float() {
                let key = format!("{section}.{name}");
                assert!(
                    RANGES.iter().any(|r| r.key == key),
                    "{key} has no range in RANGES"
                );
            }
        }
    }
}

#[test]
fn the_defaults_file_documents_every_range() {
    let text = std::fs::read_to_string(default_file()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for r in &RANGES {
        let (section, name) = r.key.split_once('.').unwrap();
        let header = lines
            .iter()
            .position(|l| *l == format!("[{section}]"))
            .unwrap_or_else(|| panic!("no [{section}]"));
        let at = header
            + lines[header..]
                .iter()
                .position(|l| l.starts_with(&format!("{name} =")))
                .unwrap_or_else(|| panic!("no {}", r.key));
        let comment: String = lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .copied()
            .collect();
        let allowed = format!("Allowed: {} to {}", r.min, r.max);
        assert!(
            comment.contains(&allowed),
            "{}: wants \"{allowed}\" in {comment:?}",
            r.key
        );
    }
}

#[test]
fn a_syntax_error_in_the_default_file_names_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let default = dir.path().join("default.toml");
    std::fs::write(&default, "[database]\nurl = \"data/kakunin.db\"\n[server\n").unwrap();
    let (file, line, key, _) = in_file(Settings::load_from(&default, |_| None).unwrap_err());
    assert_eq!(file, default.display().to_string());
    assert_eq!((line, key), (Some(3), None));
}

#[test]
fn a_per_issuer_bound_overrides_the_service_bound_within_its_range() {
    let s =
        load_site("[issuers]\nmax_in_flight = 20\n[issuers.max_in_flight_by_issuer]\nwjcs = 3\n")
            .unwrap();
    assert_eq!(s.issuers.max_in_flight_for("wjcs"), 3);
    assert_eq!(s.issuers.max_in_flight_for("other"), 20);
    let e = load_site("[issuers.max_in_flight_by_issuer]\nwjcs = 0\n").unwrap_err();
    let (_, line, key, msg) = in_file(e);
    assert_eq!(
        key.as_deref(),
        Some("issuers.max_in_flight_by_issuer.wjcs"),
        "{msg}"
    );
    assert_eq!(line, Some(2), "{msg}");
    assert!(
        msg.contains("1 以上 10000 以下") && msg.contains("（0でした）"),
        "{msg}"
    );
}

#[test]
fn trusted_proxies_are_addresses_and_a_name_is_refused_in_japanese() {
    assert!(load(&[]).unwrap().server.trusted_proxies.is_empty());
    let s = load_site("[server]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]\n").unwrap();
    assert_eq!(s.server.trusted_proxies.len(), 2);
    let (file, line, key, shown) =
        in_file(load_site("[server]\ntrusted_proxies = [\"127.0.0.1\", \"nginx\"]\n").unwrap_err());
    assert!(file.ends_with("site.toml"), "{file}");
    assert_eq!(line, Some(2));
    assert_eq!(key.as_deref(), Some("server.trusted_proxies"));
    assert!(shown.contains("IP アドレスの並び"), "{shown}");
    assert!(shown.contains("2 番目の値"), "which entry: {shown}");
    assert!(!shown.contains("invalid IP address syntax"), "{shown}");
    // The other ways to get it wrong are said in Japanese too.
    for (text, says) in [
        ("trusted_proxies = \"127.0.0.1\"", "[…] で囲んだ並び"),
        ("trusted_proxies = [1]", "IP アドレス"),
    ] {
        let (_, _, _, shown) = in_file(load_site(&format!("[server]\n{text}\n")).unwrap_err());
        assert!(shown.contains(says), "{text}: {shown}");
        assert!(
            !shown.contains("sequence") && !shown.contains("IP address"),
            "{shown}"
        );
    }
    for any in ["0.0.0.0", "::"] {
        let text = format!("[server]\ntrusted_proxies = [\"127.0.0.1\", \"{any}\"]\n");
        let (_, _, key, shown) = in_file(load_site(&text).unwrap_err());
        assert_eq!(key.as_deref(), Some("server.trusted_proxies"));
        assert!(shown.contains(&format!("「{any}」は待ち受け用")), "{shown}");
    }
}
