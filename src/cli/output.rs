//! Files pgstate writes at a path the user gave (`plan --out FILE`).
//!
//! pgstate runs as root, so a mistyped path or a symlink someone planted in a shared
//! directory must not cost a byte of anybody's file. The rules:
//!
//! * a symlink at the path is refused, never followed and never silently replaced;
//! * anything but a regular file (a directory, a FIFO, a device) is refused;
//! * an existing regular file is replaced only if `is_own` recognises it as one pgstate wrote
//!   (for `plan --out`: a saved plan); anything else is refused, so that `plan --out s.yaml`
//!   cannot wipe a state file;
//! * the content goes to a new temporary file in the same directory (random name, `O_EXCL`),
//!   which is then renamed over the path. `rename` replaces the directory entry and never
//!   writes through a symlink, so even a symlink swapped in after the check only loses
//!   itself; a new path is created without replacing anything that appeared meanwhile.

use std::fs::{OpenOptions, Permissions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;

/// Mode of a new output file, before the umask: what `fs::write` would give.
const OUTPUT_MODE: u32 = 0o644;

/// Writes `contents` to `path` by the rules above. `what` names the kind of file pgstate
/// may replace, for the error ("a saved pgstate plan").
pub fn write_output(
    path: &Path,
    contents: &[u8],
    what: &str,
    is_own: impl Fn(&[u8]) -> bool,
) -> Result<()> {
    let replace = check_output(path, what, &is_own)?;
    write_checked(path, contents, replace)
}

/// Whether `path` may be written by the rules above, before anything is done that the
/// output reports (`run` checks before it starts traffic): `Ok(true)` to replace a file
/// pgstate wrote, `Ok(false)` for a new one.
pub fn check_output(path: &Path, what: &str, is_own: &dyn Fn(&[u8]) -> bool) -> Result<bool> {
    Ok(match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => bail!(
            "refusing to write {}: it is a symbolic link, and pgstate never writes through one \
             (it could point at any file); give the real path or remove the link",
            path.display()
        ),
        Ok(meta) if !meta.is_file() => bail!(
            "refusing to write {}: it exists and is not a regular file",
            path.display()
        ),
        Ok(_) => {
            let existing = read_no_follow(path)?;
            if !is_own(&existing) {
                bail!(
                    "refusing to overwrite {}: it exists and is not {what}, and pgstate never \
                     overwrites other files; remove it or pick another path",
                    path.display()
                );
            }
            true
        }
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("looking at {}", path.display())),
    })
}

/// Writes `contents` to `path` through a temporary file, replacing what is there only when
/// `replace` ([`check_output`]).
fn write_checked(path: &Path, contents: &[u8], replace: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".pgstate-")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(OUTPUT_MODE))
        .tempfile_in(dir)
        .with_context(|| {
            format!(
                "creating a temporary file in {} for {}",
                dir.display(),
                path.display()
            )
        })?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    // On failure the temporary file is removed when the error drops it.
    let persisted = if replace {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    match persisted {
        Ok(_) => Ok(()),
        Err(e) if !replace && e.error.kind() == ErrorKind::AlreadyExists => bail!(
            "refusing to overwrite {}: it appeared while the file was being written",
            path.display()
        ),
        Err(e) => Err(e.error).with_context(|| format!("writing {}", path.display())),
    }
}

/// The content of the regular file at `path`, without following a symlink there.
fn read_no_follow(path: &Path) -> Result<Vec<u8>> {
    // O_NONBLOCK: a FIFO swapped in after the `lstat` must not hang the open.
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .with_context(|| format!("reading {}", path.display()))?;
    if !file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .is_file()
    {
        bail!(
            "refusing to write {}: it exists and is not a regular file",
            path.display()
        );
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_ours(b: &[u8]) -> bool {
        b.starts_with(b"ours")
    }

    #[test]
    fn a_new_path_is_created_and_an_own_file_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_output(&path, b"ours 1", "ours", is_ours).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ours 1");
        write_output(&path, b"ours 2", "ours", is_ours).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"ours 2");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn another_file_a_symlink_and_a_directory_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, "precious").unwrap();
        let err = write_output(&other, b"ours", "ours", is_ours).unwrap_err();
        assert!(err.to_string().contains("is not ours"), "{err:#}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&other, &link).unwrap();
        let err = write_output(&link, b"ours", "ours", is_ours).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err:#}");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let err = write_output(dir.path(), b"ours", "ours", is_ours).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err:#}");
        assert_eq!(std::fs::read(&other).unwrap(), b"precious");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
