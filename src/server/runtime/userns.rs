//! The user namespace of a sandbox started by a server running as root: the
//! sandbox's root (uid and gid 0) is its leased host uid and gid, and
//! nothing else is mapped, so no host id is anyone inside. Bubblewrap sets
//! the sandbox up as root outside and only then moves it in (`--userns2`),
//! so every other namespace of the sandbox belongs to the host, where the
//! sandbox has no rights at all.
//!
//! No further user namespace can be made inside: the limit of this one is
//! set to 0 while it is still new, by its creator, the only process that
//! ever has the privilege to change it.
use super::child::clone::{self, SignalsBlocked};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

struct Args {
    /// Read end of the pipe on which the parent says "go on" (1) or "stop" (0).
    go: libc::c_int,
    /// Its write end, of which the child got a copy: closed first, so a
    /// parent that dies leaves the read with an end of file.
    go_writer: libc::c_int,
    /// 0 once the limit is set.
    result: AtomicI32,
}

/// A new user namespace mapping 0 to `uid` and `gid`; the descriptor keeps
/// it alive.
pub fn create(uid: u32, gid: u32) -> io::Result<OwnedFd> {
    let (go_r, go_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let args = Args {
        go: go_r.as_raw_fd(),
        go_writer: go_w.as_raw_fd(),
        result: AtomicI32::new(-1),
    };
    let blocked = SignalsBlocked::new();
    let [stack, _] = clone::stack_tops()?;
    // SAFETY: the child runs on this thread's child stack, which nothing
    // else uses until it is reaped below; `args` lives until then too;
    // signals stay blocked in this thread for all that time, and the child
    // touches the shared memory only through `args` (see userns_main).
    let pid = unsafe {
        clone::clone(
            userns_main,
            stack,
            libc::CLONE_VM | libc::CLONE_NEWUSER | libc::SIGCHLD,
            &args as *const Args as *mut libc::c_void,
        )
    }?;
    let set_up = (|| -> io::Result<OwnedFd> {
        std::fs::write(format!("/proc/{pid}/uid_map"), format!("0 {uid} 1\n"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), format!("0 {gid} 1\n"))?;
        Ok(std::fs::File::open(format!("/proc/{pid}/ns/user"))?.into())
    })();
    let go = [u8::from(set_up.is_ok())];
    // SAFETY: a one-byte write to our pipe, then reaping our own child.
    let status = unsafe {
        libc::write(go_w.as_raw_fd(), go.as_ptr().cast(), 1);
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        status
    };
    drop(blocked);
    let fd = set_up.map_err(|e| io::Error::other(format!("mapping the sandbox's ids: {e}")))?;
    if !libc::WIFEXITED(status)
        || libc::WEXITSTATUS(status) != 0
        || args.result.load(Ordering::Acquire) != 0
    {
        return Err(io::Error::other(
            "cannot disable nested user namespaces in the sandbox",
        ));
    }
    Ok(fd)
}

/// The namespace's creator: waits until the parent has written the maps,
/// then sets the namespace's limit. Raw system calls only, on its own
/// stack. Its errno lands in the parent thread's, which reads none while
/// it waits.
extern "C" fn userns_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's Args, alive until we are reaped.
    unsafe {
        let a = &*(arg as *const Args);
        libc::close(a.go_writer);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
            libc::_exit(1);
        }
        let mut go = [0u8; 1];
        if libc::read(a.go, go.as_mut_ptr().cast(), 1) != 1 || go[0] != 1 {
            libc::_exit(1);
        }
        let fd = libc::open(
            c"/proc/sys/user/max_user_namespaces".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 || libc::write(fd, b"0\n".as_ptr().cast(), 2) != 2 {
            libc::_exit(2);
        }
        a.result.store(0, Ordering::Release);
        libc::_exit(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sh -c script` inside the namespace (as its root), the way a
    /// sandbox's processes are put there.
    fn run_inside(ns: &OwnedFd, script: &str) -> std::process::Output {
        use std::os::unix::process::CommandExt;
        let fd = ns.as_raw_fd();
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", script]);
        // SAFETY: setns and setres[ug]id only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWUSER) != 0
                    || libc::setresgid(0, 0, 0) != 0
                    || libc::setresuid(0, 0, 0) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.output().unwrap_or_else(|e| panic!("sh: {e}"))
    }

    #[test]
    fn maps_root_to_the_given_ids_and_allows_no_nested_namespace() {
        let made = create(1_500_099_999, 1_500_099_998);
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            // Only root may map other ids: an ordinary user's server never
            // asks, and is refused if it does.
            assert!(made.is_err(), "an unprivileged user mapped foreign ids");
            return;
        }
        let ns = made.unwrap_or_else(|e| panic!("{e}"));
        let out = run_inside(
            &ns,
            "cat /proc/self/uid_map /proc/self/gid_map; cat /proc/sys/user/max_user_namespaces; \
             unshare -U true && echo NESTED",
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            words,
            vec!["0", "1500099999", "1", "0", "1500099998", "1", "0"],
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
