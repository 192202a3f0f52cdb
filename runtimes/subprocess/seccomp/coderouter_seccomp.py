"""Writes coderouter's seccomp filter, as a BPF program for bubblewrap's --seccomp, to stdout.

Run once per host process with a python3 that has libseccomp's bindings (Debian: python3-seccomp);
bwrap loads the program just before it starts the interpreter, so it binds every process of the
sandbox (fork-server, its children, session workers, cold runs) before any user code runs.

Everything is allowed except what lets one process reach another or widen the kernel's attack
surface; the README's threat model gives the reason for each entry. Denied calls fail with EPERM
(clone3 with ENOSYS, so the C library falls back to clone, whose flags a filter can inspect).
"""

import errno
import sys

import seccomp

DENIED = (
    # Reach another process of the same uid: the fork-server that forked us, a sibling.
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "kcmp",
    # New namespaces (a user namespace grants capabilities inside it) or entering others'.
    "unshare", "setns",
    # Change the filesystem view of the sandbox.
    "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    # Kernel keyrings are not namespaced: a channel between executions of one uid.
    "keyctl", "add_key", "request_key",
    # System V IPC objects outlive their process in the IPC namespace a fork-server's executions
    # share: one execution could leave data for the next. (POSIX shared memory lives in /dev/shm,
    # which is emptied after each execution.)
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
    "semtimedop", "semctl",
    # Large kernel attack surfaces, or tools that make kernel races reliable.
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    # Filesystem handles bypass path checks (the "shocker" escape).
    "open_by_handle_at", "name_to_handle_at",
    # The host's kernel and clock: privileged anyway, denied in depth.
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "syslog", "acct", "swapon", "swapoff", "quotactl", "iopl", "ioperm", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex",
)

NAMESPACE_FLAGS = (
    0x00000080,  # CLONE_NEWTIME
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)

# personality() flags that turn off memory protections an exploit would have to defeat.
WEAKENING_PERSONALITIES = (
    0x0040000,  # ADDR_NO_RANDOMIZE
    0x0100000,  # MMAP_PAGE_ZERO
    0x0200000,  # ADDR_COMPAT_LAYOUT
    0x0400000,  # READ_IMPLIES_EXEC
)


def build():
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        try:
            rules.add_rule(deny, name)
        except (RuntimeError, ValueError):
            pass  # not a system call on this architecture
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for flag in WEAKENING_PERSONALITIES:
        rules.add_rule(deny, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


if __name__ == "__main__":
    build().export_bpf(sys.stdout)
