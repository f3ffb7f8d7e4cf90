//! A process that forks must not hand its child the same random stream: otherwise a pre-fork
//! server (or an app embedding iam through the C ABI that forks workers) mints the same ids,
//! tokens and nonces in parent and child. Lives here because only this crate may use `unsafe`.

use iam_core::SecureRandom;

/// Reads exactly `buf.len()` bytes from `fd`.
fn read_exact(fd: libc::c_int, buf: &mut [u8]) {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        assert!(n > 0, "the child wrote fewer bytes than expected");
        done += usize::try_from(n).expect("positive");
    }
}

/// In a forked child: draws 32 bytes from `rng` and writes them to `fd`, then exits without
/// running anything of the parent's (no destructors, no test harness). Allocates nothing, so
/// it cannot meet a lock another thread held at the fork.
fn child(rng: &SecureRandom, fd: libc::c_int) -> ! {
    let drawn = std::panic::catch_unwind(|| rng.bytes::<32>());
    let code = match drawn {
        Ok(bytes) => {
            // SAFETY: `bytes` is a live 32-byte buffer.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
            i32::from(n != 32)
        }
        Err(_) => 2,
    };
    // SAFETY: ends the child at once, as a forked child of a threaded process should.
    unsafe { libc::_exit(code) }
}

#[test]
fn a_forked_child_draws_different_bytes_than_its_parent() {
    let rng = SecureRandom::from_entropy();
    // Used before the fork, as a running server's generator would be.
    let _ = rng.bytes::<64>();

    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let [read_fd, write_fd] = fds;

    // SAFETY: the child only draws bytes, writes them and calls _exit (see `child`).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        child(&rng, write_fd);
    }
    // SAFETY: the parent's copy of the write end, closed once, so a child that dies early
    // ends the read instead of blocking it.
    unsafe { libc::close(write_fd) };
    let parent = rng.bytes::<32>();
    let mut from_child = [0u8; 32];
    read_exact(read_fd, &mut from_child);

    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &raw mut status, 0) }, pid);
    // SAFETY: the read end, closed once.
    unsafe { libc::close(read_fd) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed: status {status}"
    );
    assert_ne!(
        parent, from_child,
        "parent and forked child drew the same random bytes"
    );
}
