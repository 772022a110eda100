//! The system-call filter every process of a sandbox runs under, in the
//! spirit of Docker's and podman's default profiles: the kernel's most
//! exploited interfaces (keyrings, io_uring, eBPF, userfaultfd, perf), the
//! calls that rearrange mounts or namespaces, and the ones that change the
//! whole machine (modules, kexec, reboot, swap, clocks) fail with EPERM.
//! Nothing is killed: a program that probes a refused call gets an error it
//! can handle. (`setns` stays allowed: it needs privileges in the target's
//! user namespace, which no sandbox has, and the server's own children
//! join sandboxes under this filter; see `sandbox_thread`.)
//!
//! The rules are compiled by `seccompiler`. In front of its program sits a
//! short guard for what a per-architecture rule list cannot see: system
//! calls made through another ABI of the same CPU (32-bit `int 0x80`, x32
//! numbers on x86_64), which would bypass every rule, and `clone3`, whose
//! flags live in memory a filter cannot read. Those answer ENOSYS, so libc
//! falls back to `clone`, whose flags the rules do check.
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// System calls refused outright.
const REFUSED: &[i64] = &[
    // Keyrings: shared kernel state, a long line of privilege escalations.
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_keyctl,
    // io_uring, eBPF, userfaultfd, perf: large, often exploited surfaces.
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_bpf,
    libc::SYS_userfaultfd,
    libc::SYS_perf_event_open,
    // Mounts and namespaces: the sandbox's view of the world is fixed.
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    // File handles reach files by inode, around every path check.
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    // The machine itself.
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_vhangup,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_lookup_dcookie,
];

/// Flags that make `clone` or `unshare` create a namespace.
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
    // CLONE_NEWTIME (not in every libc version).
    0x80,
];

// Offsets into `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
/// x32 system calls are x86_64 numbers with this bit set.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
#[cfg(target_arch = "x86_64")]
const BPF_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA)
}

/// The guard run before the rules (see the module comment).
fn abi_guard() -> Vec<sock_filter> {
    let mut g = vec![
        stmt(BPF_LD_W_ABS, ARCH_OFFSET),
        // Same ABI: skip the next instruction.
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, errno(libc::ENOSYS)),
        stmt(BPF_LD_W_ABS, NR_OFFSET),
    ];
    #[cfg(target_arch = "x86_64")]
    g.extend([
        jump(BPF_JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, errno(libc::ENOSYS)),
    ]);
    g.extend([
        jump(BPF_JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET_K, errno(libc::ENOSYS)),
    ]);
    g
}

fn namespace_rules(flags_arg: u8) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    NAMESPACE_FLAGS
        .iter()
        .map(|&flag| {
            let flag = flag as u64;
            SeccompRule::new(vec![SeccompCondition::new(
                flags_arg,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )?])
        })
        .collect()
}

fn build() -> Result<Vec<sock_filter>, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        REFUSED.iter().map(|&nr| (nr, Vec::new())).collect();
    let ns = namespace_rules(0).map_err(|e| e.to_string())?;
    rules.insert(libc::SYS_clone, ns.clone());
    rules.insert(libc::SYS_unshare, ns);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let rules: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let mut program = abi_guard();
    program.extend(rules);
    Ok(program)
}

/// The compiled filter, built once.
pub fn program() -> Result<&'static [sock_filter], String> {
    static PROGRAM: OnceLock<Result<Vec<sock_filter>, String>> = OnceLock::new();
    PROGRAM
        .get_or_init(build)
        .as_deref()
        .map_err(|e| format!("cannot build the system-call filter: {e}"))
}

/// The filter as the bytes `bwrap --seccomp FD` reads.
pub fn program_bytes() -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for ins in program()? {
        out.extend_from_slice(&ins.code.to_ne_bytes());
        out.push(ins.jt);
        out.push(ins.jf);
        out.extend_from_slice(&ins.k.to_ne_bytes());
    }
    Ok(out)
}

/// What `prctl(PR_SET_SECCOMP)` takes, pointing into the static program.
#[derive(Clone, Copy)]
pub struct Prog(libc::sock_fprog);

// SAFETY: the pointer refers to the program in a static, never freed or
// changed after it is built.
unsafe impl Send for Prog {}
unsafe impl Sync for Prog {}

impl Prog {
    pub fn get() -> Result<Prog, String> {
        let p = program()?;
        let len = u16::try_from(p.len()).map_err(|_| "the system-call filter is too long")?;
        Ok(Prog(libc::sock_fprog {
            len,
            filter: p.as_ptr() as *mut libc::sock_filter,
        }))
    }

    /// Install the filter on the calling thread (no_new_privs must be set).
    ///
    /// # Safety
    /// For a child between clone and exec: async-signal-safe, no allocation.
    pub unsafe fn install(&self) -> bool {
        // SPEC_ALLOW: a filter alone must not switch on the kernel's
        // speculative-store-bypass mitigation for the process, which the
        // kernel does by default (costly for each short-lived exec). The
        // machine's own mitigation policy still applies.
        const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
        const SECCOMP_FILTER_FLAG_SPEC_ALLOW: libc::c_long = 1 << 2;
        let with_flag = libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            &self.0 as *const libc::sock_fprog,
        );
        with_flag == 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &self.0 as *const libc::sock_fprog,
            ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    /// Runs `script` (Python) under the filter, as a sandbox would.
    fn under_filter(script: &str) -> std::process::Output {
        let prog = Prog::get().unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", script]);
        // SAFETY: prctl calls only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !prog.install() {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.output().unwrap_or_else(|e| panic!("python3: {e}"))
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn refused_calls_fail_with_eperm_and_the_rest_work() {
        let script = r#"
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    r = libc.syscall(nr, *args)
    return 0 if r >= 0 else ctypes.get_errno()
# x86_64 numbers: keyctl 250, add_key 248, io_uring_setup 425, bpf 321,
# unshare 272, clone3 435, getpid 39; x32 keyctl = 0x40000000 | 250.
import platform
assert platform.machine() == "x86_64", platform.machine()
print(call(250, 0, 0), call(248, 0, 0, 0, 0, 0), call(425, 1, 0), call(321, 0, 0, 0),
      call(272, 0x10000000), call(272, 0x40000000), call(435, 0, 0), call(0x40000000 | 250, 0, 0),
      call(272, 0x200), call(39) == 0)
"#;
        let out = under_filter(script);
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}{err}");
        let eperm = libc::EPERM.to_string();
        let enosys = libc::ENOSYS.to_string();
        let got: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            got,
            vec![
                eperm.as_str(),
                eperm.as_str(),
                eperm.as_str(),
                eperm.as_str(),
                eperm.as_str(),
                eperm.as_str(),
                enosys.as_str(),
                enosys.as_str(),
                // unshare(CLONE_FS) creates no namespace: allowed.
                "0",
                "True"
            ],
            "keyctl add_key io_uring bpf unshare(NEWUSER) unshare(NEWNET) clone3 x32 unshare(FS) getpid"
        );
    }

    #[test]
    fn ordinary_programs_still_run() {
        // Threads (clone without namespace flags), subprocesses, sockets.
        let out = under_filter(
            "import threading, subprocess, socket\n\
             t = threading.Thread(target=lambda: None); t.start(); t.join()\n\
             print(subprocess.run(['sh', '-c', 'echo ok'], capture_output=True, text=True).stdout.strip())\n\
             socket.socketpair()",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }
}
