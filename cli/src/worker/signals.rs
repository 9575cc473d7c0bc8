//! Signals the worker reacts to, and a wake-up pipe: SIGCHLD (a job ended),
//! SIGTERM and SIGINT (shut down; a second one: now) each write a byte to
//! the pipe, so the main loop sleeps in poll() and wakes at once.

use std::os::fd::IntoRawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static STOPS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGTERM || sig == libc::SIGINT {
        STOPS.fetch_add(1, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) is async-signal-safe; a full pipe just drops the byte.
        unsafe {
            libc::write(fd, b"x".as_ptr().cast(), 1);
        }
    }
}

/// The read end of the wake-up pipe.
pub struct Wakeups {
    read_fd: i32,
}

impl Wakeups {
    pub fn install() -> std::io::Result<Wakeups> {
        // std's pipe is close-on-exec everywhere (pipe2 is not on macOS);
        // both ends must not block: the handler writes, the waiter drains.
        let (read, write) = std::io::pipe()?;
        let fds = [read.into_raw_fd(), write.into_raw_fd()];
        // SAFETY: plain fcntl/sigaction calls with valid arguments.
        unsafe {
            for fd in fds {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            WAKE_FD.store(fds[1], Ordering::SeqCst);
            for sig in [libc::SIGCHLD, libc::SIGTERM, libc::SIGINT] {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as usize;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(Wakeups { read_fd: fds[0] })
    }

    /// Sleeps until a signal arrives or `timeout` passes, then drains the pipe.
    pub fn wait(&self, timeout: std::time::Duration) {
        self.wait_or_readable(-1, timeout);
    }

    /// Sleeps until a signal arrives, `fd` can be read (a negative `fd` is
    /// ignored) or `timeout` passes; whether `fd` can be read.
    pub fn wait_or_readable(&self, fd: i32, timeout: std::time::Duration) -> bool {
        let mut pfds = [
            libc::pollfd { fd: self.read_fd, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd, events: libc::POLLIN, revents: 0 },
        ];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: two valid pollfds (poll skips a negative fd); reads into a local buffer.
        unsafe {
            libc::poll(pfds.as_mut_ptr(), 2, ms);
            let mut buf = [0u8; 64];
            while libc::read(self.read_fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
        }
        pfds[1].revents & libc::POLLIN != 0
    }

    /// How many stop signals (SIGTERM/SIGINT) arrived so far.
    pub fn stops(&self) -> usize {
        STOPS.load(Ordering::SeqCst)
    }
}
