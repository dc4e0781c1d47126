//! What ships with the crate: licence files that match `Cargo.toml`, and a release profile
//! without debug info (issue 12.10), and no simulator in the installed binary (issue 11).

use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of one `[section]` of Cargo.toml, without comments.
fn section(toml: &str, name: &str) -> Option<Vec<String>> {
    let header = format!("[{name}]");
    let mut lines = toml.lines().skip_while(|l| l.trim() != header);
    lines.next()?;
    Some(
        lines
            .take_while(|l| !l.trim_start().starts_with('['))
            .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

#[test]
fn the_licence_files_match_cargo_toml() {
    let toml = read("Cargo.toml");
    assert!(
        toml.lines()
            .any(|l| l.trim() == r#"license = "MIT OR Apache-2.0""#),
        "Cargo.toml's licence changed; update LICENSE-* and this test"
    );
    let mit = read("LICENSE-MIT");
    assert!(mit.starts_with("MIT License"), "{mit}");
    assert!(mit.contains("Permission is hereby granted, free of charge"));
    let apache = read("LICENSE-APACHE");
    assert!(apache.contains("Apache License"));
    assert!(apache.contains("Version 2.0, January 2004"));
    assert!(apache.contains("END OF TERMS AND CONDITIONS"));
}

#[test]
fn release_builds_carry_no_debug_info_and_release_debug_does() {
    let toml = read("Cargo.toml");
    // `[profile.release]` may be absent (cargo's defaults) but must not turn debug info on.
    if let Some(release) = section(&toml, "profile.release") {
        assert!(
            !release.iter().any(|l| l.starts_with("debug")),
            "debug info in the release profile: {release:?}"
        );
    }
    let debug = section(&toml, "profile.release-debug").expect("[profile.release-debug]");
    assert!(
        debug.contains(&r#"inherits = "release""#.to_owned()),
        "{debug:?}"
    );
    assert!(debug.iter().any(|l| l.starts_with("debug")), "{debug:?}");
}

#[test]
fn the_simulator_is_left_out_of_the_installed_binary_and_on_for_tests() {
    let toml = read("Cargo.toml");
    let features = section(&toml, "features").expect("[features]");
    assert!(
        features.contains(&"simulator = []".to_owned()),
        "{features:?}"
    );
    assert!(
        !features.iter().any(|l| l.starts_with("default")),
        "a default feature would put the simulator in `cargo install`: {features:?}"
    );
    let dev = section(&toml, "dev-dependencies").expect("[dev-dependencies]");
    assert!(
        dev.contains(&r#"pgstate = { path = ".", features = ["simulator"] }"#.to_owned()),
        "the tests and benches need the simulator: {dev:?}"
    );
    // This test binary itself is built with it.
    let _ = pgstate::procfs::SimProcfs::new(pgstate::KernelProfile::default(), &[0]);
}

/// The binary is a static, non-PIE executable (`.cargo/config.toml`): no program interpreter
/// (no dynamic loader at start) and `ET_EXEC` (no relocations to apply at start). The test
/// binary's `pgstate` is built with the same flags as the release one.
#[test]
fn the_binary_is_static_and_not_position_independent() {
    let elf = std::fs::read(env!("CARGO_BIN_EXE_pgstate")).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
    const ET_EXEC: u16 = 2;
    const PT_INTERP: u32 = 3;
    assert_eq!(u16_at(16), ET_EXEC, "not ET_EXEC: a PIE or a shared object");
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    let interp = (0..usize::from(phnum)).any(|i| u32_at(phoff + i * phentsize) == PT_INTERP);
    assert!(!interp, "the binary asks for a dynamic loader (PT_INTERP)");
}

/// The Debian package (issue 13): every asset `[package.metadata.deb]` names exists, except
/// the ones `tests/package/build-deb.sh` generates under `target/`; the maintainer scripts
/// are executable shell scripts; the unit the package adapts still has the `ExecStart` line
/// that build-deb.sh rewrites to `/usr/bin/pgstate`.
#[test]
fn the_debian_package_assets_exist() {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let toml = read("Cargo.toml");
    let deb: Vec<&str> = toml
        .lines()
        .skip_while(|l| l.trim() != "[package.metadata.deb]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .collect();
    assert!(!deb.is_empty(), "no [package.metadata.deb] in Cargo.toml");
    let mut sources = Vec::new();
    for line in &deb {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("[\"") {
            sources.push(rest.split('"').next().unwrap().to_owned());
        }
    }
    assert!(sources.len() >= 6, "{sources:?}");
    for src in &sources {
        if src.starts_with("target/") {
            continue; // built by cargo or written by build-deb.sh
        }
        if let Some((dir, pattern)) = src.rsplit_once("/*") {
            let n = std::fs::read_dir(root.join(dir))
                .unwrap_or_else(|e| panic!("{dir}: {e}"))
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(pattern))
                .count();
            assert!(n > 0, "{src} matches no file");
        } else {
            assert!(root.join(src).is_file(), "asset {src} does not exist");
        }
    }
    for script in ["postinst", "prerm", "postrm"] {
        let path = root.join("contrib/debian").join(script);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "{} is not executable", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{}", path.display());
        assert!(text.contains("pgstate-watch.service"), "{}", path.display());
    }
    let unit = read("contrib/pgstate-watch.service");
    assert!(
        unit.lines()
            .any(|l| l == "ExecStart=/usr/local/bin/pgstate watch /etc/pgstate"),
        "contrib/pgstate-watch.service changed its ExecStart: adapt tests/package/build-deb.sh"
    );
}
