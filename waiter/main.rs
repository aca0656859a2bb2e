//! vzrun-wait: what a created container's init becomes while it waits for
//! `vzrun start`, so that a waiting container costs the host a few pages
//! instead of a copy of the runtime (its heap, its stack, the pages its
//! start-up relocated). The runtime has done every step of the setup
//! before it execs this; what is left is the wait and the execve.
//!
//! Built by build.rs for the target alone, with neither std nor libc:
//! raw syscalls, no allocation, no relocation. The runtime embeds it and
//! execs it from a sealed memfd (`src/process/waiter.rs`).
//!
//! argv: `vzrun-wait LISTENER FAIL_BEFORE FAIL_AFTER PATH ARGV0 ARGS...`,
//! envp: the process's environment.
//! - LISTENER: the start socket's descriptor (decimal).
//! - FAIL_BEFORE, FAIL_AFTER: the protocol's `Failed` message for a failed
//!   execve of PATH, cut where the errno goes; sent to `vzrun start`.
//! - PATH, ARGV0 ARGS...: what to execve.
//!
//! The terminating signals arrive blocked (the runtime blocked them before
//! the exec, so that none is lost while no handler exists): each ends the
//! wait with 128+signal, as the runtime's own wait does, since a pid 1
//! ignores any signal it has no handler for.

#![no_std]
#![no_main]

use core::arch::{asm, global_asm};

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const CLOSE: usize = 3;
    pub const PRCTL: usize = 157;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const RECVFROM: usize = 45;
    pub const SENDMSG: usize = 46;
    pub const EXECVE: usize = 59;
    pub const EXIT_GROUP: usize = 231;
    pub const ACCEPT4: usize = 288;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const CLOSE: usize = 57;
    pub const PRCTL: usize = 167;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RECVFROM: usize = 207;
    pub const SENDMSG: usize = 211;
    pub const EXECVE: usize = 221;
    pub const EXIT_GROUP: usize = 94;
    pub const ACCEPT4: usize = 242;
}

// The entry point: the kernel leaves argc, argv and envp on the stack.
#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {main}",
    "ud2",
    main = sym waiter_main,
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov x0, sp",
    "bl {main}",
    "brk #0",
    main = sym waiter_main,
);

#[cfg(target_arch = "x86_64")]
unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY (for callers): the kernel reads only what the arguments name.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY (for callers): the kernel reads only what the arguments name.
    unsafe {
        asm!(
            "svc 0",
            in("x8") n,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

fn exit(code: usize) -> ! {
    loop {
        // SAFETY: exit_group takes an integer and does not return.
        unsafe { syscall(nr::EXIT_GROUP, [code, 0, 0, 0, 0, 0]) };
    }
}

/// The precompiled core names an unwinding personality even with
/// panic=abort; nothing here unwinds, so it is never called.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(127)
}

const EINTR: isize = 4;
const SOCK_CLOEXEC: usize = 0o2000000;
const MSG_NOSIGNAL: usize = 0x4000;
const SA_RESTORER: u64 = 0x0400_0000;
const SIG_SETMASK: usize = 2;
const PR_SET_DUMPABLE: usize = 4;
// SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM: as the runtime's wait.
const TERMINATING: [usize; 6] = [1, 2, 3, 10, 12, 15];

/// The kernel's `struct sigaction` (x86_64 and arm64 alike).
#[repr(C)]
struct SigAction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

extern "C" fn die(sig: i32) {
    exit(128 + sig as usize)
}

/// x86_64 refuses to deliver a signal to a handler without a restorer; `die`
/// never returns, so this is never reached.
extern "C" fn no_return() {
    exit(127)
}

/// A NUL-terminated string's bytes.
///
/// # Safety
/// `p` points at a NUL-terminated string that outlives the result.
unsafe fn c_str<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    // Volatile, so that the loop is not turned into a call to strlen,
    // which nothing here provides.
    // SAFETY: the caller promises a terminating NUL.
    while unsafe { p.add(n).read_volatile() } != 0 {
        n += 1;
    }
    // SAFETY: the n bytes before the NUL are readable.
    unsafe { core::slice::from_raw_parts(p, n) }
}

fn parse_fd(s: &[u8]) -> usize {
    let mut n = 0usize;
    for &c in s {
        if !c.is_ascii_digit() {
            exit(127)
        }
        n = n * 10 + (c - b'0') as usize;
    }
    n
}

/// Waits for a connection whose first packet is the protocol's `Start`;
/// any other connection is closed and the wait goes on, as in the
/// runtime's own wait.
fn accept_start(listener: usize) -> usize {
    const START: &[u8] = b"{\"Start\":";
    loop {
        // SAFETY: accept4 without an address buffer.
        let conn = unsafe { syscall(nr::ACCEPT4, [listener, 0, 0, SOCK_CLOEXEC, 0, 0]) };
        if conn == -EINTR {
            continue;
        }
        if conn < 0 {
            exit(1)
        }
        let conn = conn as usize;
        let mut head = [0u8; 9];
        // A longer packet is cut to its head, which is all we look at.
        // SAFETY: recvfrom writes at most head.len() bytes into head.
        let n = unsafe {
            syscall(
                nr::RECVFROM,
                [conn, head.as_mut_ptr() as usize, head.len(), 0, 0, 0],
            )
        };
        if n == START.len() as isize && head == *START {
            return conn;
        }
        // SAFETY: closing a descriptor we own.
        unsafe { syscall(nr::CLOSE, [conn, 0, 0, 0, 0, 0]) };
    }
}

/// Sends `before`, the errno in decimal and `after` as one packet.
fn report_exec_failure(conn: usize, before: &[u8], errno: usize, after: &[u8]) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut e = errno;
    loop {
        at -= 1;
        digits[at] = b'0' + (e % 10) as u8;
        e /= 10;
        if e == 0 {
            break;
        }
    }
    let iov: [[usize; 2]; 3] = [
        [before.as_ptr() as usize, before.len()],
        [digits[at..].as_ptr() as usize, digits.len() - at],
        [after.as_ptr() as usize, after.len()],
    ];
    // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
    let msg: [usize; 7] = [0, 0, iov.as_ptr() as usize, 3, 0, 0, 0];
    // SAFETY: msg and the buffers it names live across the call.
    unsafe {
        syscall(
            nr::SENDMSG,
            [conn, msg.as_ptr() as usize, MSG_NOSIGNAL, 0, 0, 0],
        )
    };
}

/// # Safety
/// Called once, from `_start`, with the stack the kernel set up.
#[unsafe(no_mangle)]
unsafe extern "C" fn waiter_main(sp: *const usize) -> ! {
    // SAFETY: the kernel's initial stack: argc, argv[argc], NULL, envp.
    let (argc, argv) = unsafe { (*sp, sp.add(1) as *const *const u8) };
    if argc < 6 {
        exit(127)
    }
    // SAFETY: argv[0..argc] are NUL-terminated strings; envp follows the
    // NULL that ends argv.
    let (listener, before, after, path, args, envp) = unsafe {
        (
            parse_fd(c_str(*argv.add(1))),
            c_str(*argv.add(2)),
            c_str(*argv.add(3)),
            *argv.add(4),
            argv.add(5),
            argv.add(argc + 1),
        )
    };
    // The exec made us dumpable again: the container's own processes
    // (an exec'd one) could ptrace us or open /proc/1/*, as the runtime's
    // wait does not let them.
    // SAFETY: prctl with integer arguments.
    unsafe { syscall(nr::PRCTL, [PR_SET_DUMPABLE, 0, 0, 0, 0, 0]) };
    for sig in TERMINATING {
        let act = SigAction {
            handler: die as *const () as usize,
            flags: SA_RESTORER,
            restorer: no_return as *const () as usize,
            mask: 0,
        };
        // SAFETY: act is a valid sigaction for the kernel to copy.
        unsafe {
            syscall(
                nr::RT_SIGACTION,
                [sig, &act as *const SigAction as usize, 0, 8, 0, 0],
            )
        };
    }
    let none: u64 = 0;
    // SAFETY: the new mask is read from `none`; no old mask is written.
    unsafe {
        syscall(
            nr::RT_SIGPROCMASK,
            [SIG_SETMASK, &none as *const u64 as usize, 0, 8, 0, 0],
        )
    };
    let conn = accept_start(listener);
    // SAFETY: the listener is ours and the process must not inherit it.
    unsafe { syscall(nr::CLOSE, [listener, 0, 0, 0, 0, 0]) };
    // The handlers go with the execve; the connection (close-on-exec)
    // closes with it, which `vzrun start` reads as success.
    // SAFETY: path, args and envp are NUL-terminated, NULL-terminated as
    // execve wants them.
    let rc = unsafe {
        syscall(
            nr::EXECVE,
            [path as usize, args as usize, envp as usize, 0, 0, 0],
        )
    };
    report_exec_failure(conn, before, (-rc) as usize, after);
    exit(1)
}
