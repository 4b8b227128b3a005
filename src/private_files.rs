//! Files only the user can read: everything ai4k8s writes in its data dir (logs, journal,
//! history and LLM state) may name clusters, deployments and what an LLM said, so the dir is
//! 0700 and each file 0600. Files and dirs left too open by an older version (or a umask of
//! 022) are tightened when they are opened. Elsewhere than unix these are plain creates.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;

/// Create `dir` (its missing parents with the usual mode, `dir` itself 0700), or tighten it
/// to 0700 when it exists with group or other bits. A shared dir (sticky bit, as /tmp) is
/// left alone: it is not ours to close.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    match builder.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => tighten_dir(dir),
        Err(e) => Err(e),
    }
}

/// Open `path` with `opts`, creating it 0600; an existing file with group or other bits is
/// tightened through the open handle (no window where the name could be swapped).
pub fn open(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    let file = opts.open(path)?;
    tighten_file(&file)?;
    Ok(file)
}

/// Make sure `path` exists as a 0600 file without changing its content (for files another
/// library opens by name, such as SQLite's: its `-wal` and `-shm` files copy this mode).
pub fn touch(path: &Path) -> io::Result<()> {
    open(
        path,
        OpenOptions::new().read(true).append(true).create(true),
    )
    .map(drop)
}

/// Prepare a SQLite database at `path` before it is opened: SQLite would create it 0644 (less
/// the umask); created 0600 first, its `-wal`, `-shm` and `-journal` files copy that mode, and
/// ones left too open are tightened.
pub fn sqlite(path: &Path) -> io::Result<()> {
    touch(path)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        tighten(Path::new(&side))?;
    }
    Ok(())
}

/// Tighten `path` to 0600 if it exists (a sibling file someone else created, such as a
/// SQLite `-wal` left by an older version).
pub fn tighten(path: &Path) -> io::Result<()> {
    match File::open(path) {
        Ok(f) => tighten_file(&f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn tighten_file(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_file(_: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn tighten_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 && mode & 0o1000 == 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn tighten_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o7777
    }

    #[test]
    fn new_dirs_are_0700_and_new_files_0600() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a/data");
        ensure_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("x.log");
        let mut file = open(&f, OpenOptions::new().append(true).create(true)).expect("open");
        file.write_all(b"line\n").expect("write");
        assert_eq!(mode(&f), 0o600);
        touch(&dir.join("db")).expect("touch");
        assert_eq!(mode(&dir.join("db")), 0o600);
    }

    #[test]
    fn too_open_files_and_dirs_are_tightened_and_keep_their_content() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let f = dir.join("old.log");
        std::fs::write(&f, "kept\n").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let g = dir.join("old.db");
        std::fs::write(&g, "db").expect("write");
        std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o664)).expect("chmod");

        ensure_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        touch(&f).expect("touch");
        assert_eq!(mode(&f), 0o600);
        let mut text = String::new();
        File::open(&f)
            .expect("f")
            .read_to_string(&mut text)
            .expect("read");
        assert_eq!(text, "kept\n");
        tighten(&g).expect("tighten");
        assert_eq!(mode(&g), 0o600);
        tighten(&dir.join("absent")).expect("absent is fine");
    }

    #[test]
    fn a_sticky_shared_dir_is_left_alone() {
        let root = tempfile::tempdir().expect("tempdir");
        let shared = root.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        ensure_dir(&shared).expect("dir");
        assert_eq!(mode(&shared), 0o1777);
    }
}
