//! Where an embedding application keeps its [`MasterKey`]: a private file that is created on the
//! first run and read on every later one ([`MasterKey::load_or_create`]), or an environment
//! variable ([`MasterKey::from_env`]).
//!
//! The format is iamd's `master.key`: the 32 key bytes in unpadded base64url on one line, so a
//! key file moves between iamd and an embedding application unchanged. This is startup
//! configuration, read once before [`Iam`](crate::Iam) opens; iam's operations never touch a
//! file.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::MasterKey;
use crate::random::SecureRandom;

/// Why a master key could not be loaded, created or read from the environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// The key file (or its temporary sibling) could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The key file may be read or written by its group or by other users.
    #[error(
        "master key file {path} is open to other users (mode {mode:03o}); make it private \
         with `chmod 600 {path}`, and replace the key if others may have read it"
    )]
    NotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold a key in the expected format.
    #[error(
        "master key file {path} does not hold a master key ({reason}); it must contain 32 \
         bytes in unpadded base64url on one line, as iamd's master.key does"
    )]
    MalformedFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        reason: &'static str,
    },
    /// The environment variable is not set (or empty).
    #[error(
        "environment variable {var} is not set; set it to 32 random bytes in unpadded \
         base64url (for example `openssl rand 32 | basenc --base64url | tr -d =`)"
    )]
    EnvUnset {
        /// The variable's name.
        var: String,
    },
    /// The environment variable does not hold a key in the expected format.
    #[error(
        "environment variable {var} does not hold a master key ({reason}); it must be 32 \
         bytes in unpadded base64url"
    )]
    MalformedEnv {
        /// The variable's name.
        var: String,
        /// What is wrong with its value.
        reason: &'static str,
    },
}

/// Longest key file read (a key is 43 characters; anything much longer is not a key file).
const MAX_FILE_LEN: u64 = 1024;

impl MasterKey {
    /// Reads the master key from the file at `path`, or, when there is none, creates the file
    /// with a fresh random key. Call it at startup so that every run of the application uses
    /// the same key; the data sealed under it (signing keys, TOTP secrets, stored credentials)
    /// only opens with that key.
    ///
    /// The file is created with mode 0600 (owner only) and appears whole or not at all: the key
    /// is written to a temporary file in the same directory and then linked into place, so a
    /// concurrent reader never sees a partial key and two processes starting at once end up
    /// with the same key. The directory must exist.
    ///
    /// On Unix an existing file that its group or other users may read or write is refused
    /// ([`MasterKeyError::NotPrivate`]), as is one that does not hold a key
    /// ([`MasterKeyError::MalformedFile`]): a broken key file never silently becomes a new key.
    /// Keep the file out of backups of the database it protects, and back it up on its own.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<MasterKey, MasterKeyError> {
        let path = path.as_ref();
        match File::open(path) {
            Ok(file) => return read_key_file(path, file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path, e)),
        }
        let key = MasterKey::generate(&SecureRandom::from_entropy());
        match publish_new(path, &key) {
            Ok(()) => Ok(key),
            // Another process created it first: use its key.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let file = File::open(path).map_err(|e| io(path, e))?;
                read_key_file(path, file)
            }
            Err(e) => Err(io(path, e)),
        }
    }

    /// Reads the master key from the environment variable `var` (32 bytes in unpadded
    /// base64url, surrounding whitespace ignored), failing with a message that names the
    /// variable when it is unset, empty or malformed.
    pub fn from_env(var: &str) -> Result<MasterKey, MasterKeyError> {
        let value = match std::env::var_os(var) {
            Some(v) if !v.is_empty() => v,
            _ => {
                return Err(MasterKeyError::EnvUnset {
                    var: var.to_owned(),
                })
            }
        };
        let value =
            Zeroizing::new(
                value
                    .into_string()
                    .map_err(|_| MasterKeyError::MalformedEnv {
                        var: var.to_owned(),
                        reason: "not UTF-8",
                    })?,
            );
        MasterKey::parse(&value).map_err(|reason| MasterKeyError::MalformedEnv {
            var: var.to_owned(),
            reason,
        })
    }
}

fn io(path: &Path, source: std::io::Error) -> MasterKeyError {
    MasterKeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Checks the open key file's permissions (through the handle, so it is the file read) and
/// parses its content.
fn read_key_file(path: &Path, file: File) -> Result<MasterKey, MasterKeyError> {
    let meta = file.metadata().map_err(|e| io(path, e))?;
    if !meta.is_file() {
        return Err(MasterKeyError::MalformedFile {
            path: path.to_owned(),
            reason: "not a regular file",
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(MasterKeyError::NotPrivate {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut text = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut text)
        .map_err(|e| io(path, e))?;
    let malformed = |reason| MasterKeyError::MalformedFile {
        path: path.to_owned(),
        reason,
    };
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(malformed("the file is far too long"));
    }
    let text = std::str::from_utf8(&text).map_err(|_| malformed("not UTF-8"))?;
    MasterKey::parse(text).map_err(malformed)
}

/// Writes `key` to a private temporary file beside `path` and links it into place; fails with
/// `AlreadyExists` when `path` appeared meanwhile (nothing is overwritten).
fn publish_new(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let suffix: [u8; 8] = SecureRandom::from_entropy().bytes();
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", u64::from_le_bytes(suffix)));
    let tmp = dir.join(tmp_name);

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut f| {
        let mut line = Zeroizing::new(key.to_base64().expose().as_bytes().to_vec());
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_all()
    });
    // A hard link never replaces an existing file, unlike a rename.
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked?;
    // Make the new name durable as well (directories can be opened and synced on Unix only).
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &MasterKey, b: &MasterKey) -> bool {
        a.to_base64().expose() == b.to_base64().expose()
    }

    #[test]
    fn creates_once_then_reads_the_same_key() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("master.key");
        let first = MasterKey::load_or_create(&path).expect("key");
        let again = MasterKey::load_or_create(&path).expect("key");
        assert!(same(&first, &again));
        // iamd's format: base64url on one line.
        let text = std::fs::read_to_string(&path).expect("file system");
        assert_eq!(text, format!("{}\n", first.to_base64().expose()));
        assert!(same(
            &MasterKey::from_base64(&text).expect("file system"),
            &first
        ));
        // No temporary file is left behind.
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("file system").count(),
            1
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("file system")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn reads_a_key_iamd_wrote_and_keeps_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("master.key");
        let key = MasterKey::from_bytes([7; 32]);
        write_private(&path, &format!("{}\n", key.to_base64().expose()));
        assert!(same(&MasterKey::load_or_create(&path).expect("key"), &key));
        assert_eq!(
            std::fs::read_to_string(&path).expect("file system").trim(),
            key.to_base64().expose()
        );
    }

    fn write_private(path: &Path, text: &str) {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(path)
            .expect("file system")
            .write_all(text.as_bytes())
            .expect("file system");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_file_others_may_read_or_write() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("master.key");
        let key = MasterKey::load_or_create(&path).expect("key");
        for mode in [0o640, 0o604, 0o620, 0o602, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("file system");
            let err = MasterKey::load_or_create(&path).expect_err("refused");
            assert!(
                matches!(err, MasterKeyError::NotPrivate { mode: m, .. } if m == mode),
                "{mode:o}: {err}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400))
            .expect("file system");
        assert!(same(&MasterKey::load_or_create(&path).expect("key"), &key));
    }

    #[test]
    fn refuses_malformed_files_without_replacing_them() {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (i, text) in ["", "not base64!\n", "c2hvcnQ\n", &"A".repeat(2000)]
            .iter()
            .enumerate()
        {
            let path = dir.path().join(format!("bad{i}.key"));
            write_private(&path, text);
            let err = MasterKey::load_or_create(&path).expect_err("refused");
            assert!(
                matches!(err, MasterKeyError::MalformedFile { .. }),
                "{text:?}: {err}"
            );
            assert_eq!(std::fs::read_to_string(&path).expect("file system"), *text);
        }
        let err = MasterKey::load_or_create(dir.path()).expect_err("refused");
        assert!(
            matches!(
                err,
                MasterKeyError::MalformedFile {
                    reason: "not a regular file",
                    ..
                }
            ),
            "{err}"
        );
        let err =
            MasterKey::load_or_create(dir.path().join("missing/master.key")).expect_err("refused");
        assert!(matches!(err, MasterKeyError::Io { .. }), "{err}");
    }

    #[test]
    fn concurrent_first_runs_agree_on_one_key() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("master.key");
        let keys: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        MasterKey::load_or_create(&path)
                            .expect("file system")
                            .to_base64()
                            .expose()
                            .to_owned()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("file system").count(),
            1
        );
    }

    #[test]
    fn from_env_names_the_variable_when_unset_or_malformed() {
        // Variable names unique to this test: the process environment is shared.
        let var = "IAM_CORE_TEST_MASTER_KEY_FROM_ENV";
        let err = MasterKey::from_env(var).expect_err("refused");
        assert!(matches!(err, MasterKeyError::EnvUnset { .. }));
        assert!(err.to_string().contains(var), "{err}");

        let key = MasterKey::from_bytes([3; 32]);
        std::env::set_var(var, format!(" {}\n", key.to_base64().expose()));
        assert!(same(&MasterKey::from_env(var).expect("key"), &key));

        std::env::set_var(var, "c2hvcnQ");
        let err = MasterKey::from_env(var).expect_err("refused");
        assert!(
            matches!(
                err,
                MasterKeyError::MalformedEnv {
                    reason: "master key must be 32 bytes",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(var), "{err}");
        std::env::set_var(var, "");
        assert!(matches!(
            MasterKey::from_env(var).expect_err("refused"),
            MasterKeyError::EnvUnset { .. }
        ));
        std::env::remove_var(var);
    }
}
