//! An inotify instance watching one directory: what `queue_wait` uses to
//! hear commits, and `orq enqueue --watch` to hear files arrive.

use std::ffi::CString;
use std::os::raw::c_int;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One inotify descriptor with a watch on one directory; closed on drop.
pub struct Watch {
    fd: c_int,
}

impl Watch {
    /// Watches `dir` for the events of `mask` (libc::IN_*), non-blocking.
    pub fn new(dir: &Path, mask: u32) -> std::io::Result<Watch> {
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
        // SAFETY: a plain system call; the descriptor is owned by Watch from here.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let watch = Watch { fd };
        // SAFETY: a valid descriptor and C string.
        if unsafe { libc::inotify_add_watch(fd, path.as_ptr(), mask) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(watch)
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    /// Calls `each(mask, name)` for every event queued now (the name
    /// without its NUL padding; empty for events of the directory itself),
    /// and returns once none is left.
    pub fn read(&self, mut each: impl FnMut(u32, &[u8])) -> std::io::Result<()> {
        // An event is at most 16 bytes and a NAME_MAX name: a few per read.
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads at most buf.len() bytes into buf, from our own descriptor.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return Ok(());
            }
            if n < 0 {
                let e = std::io::Error::last_os_error();
                return match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Ok(()),
                    _ => Err(e),
                };
            }
            parse(&buf[..n as usize], &mut each);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this struct owns, once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

/// Each `struct inotify_event` of `bytes`: wd, mask, cookie, len, then
/// `len` bytes of NUL-padded name.
fn parse(mut bytes: &[u8], each: &mut impl FnMut(u32, &[u8])) {
    let word = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    while bytes.len() >= 16 {
        let (mask, len) = (word(bytes, 4), word(bytes, 12) as usize);
        let Some(name) = bytes.get(16..16 + len) else { return };
        let name = name.split(|b| *b == 0).next().unwrap_or(&[]);
        each(mask, name);
        bytes = &bytes[16 + len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_with_their_names() {
        let dir = std::env::temp_dir().join(format!("orq-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let watch = Watch::new(&dir, libc::IN_CLOSE_WRITE).unwrap();
        std::fs::write(dir.join("a.txt"), "x").unwrap();
        let mut seen = Vec::new();
        watch.read(|mask, name| seen.push((mask & libc::IN_CLOSE_WRITE != 0, name.to_vec()))).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(seen, vec![(true, b"a.txt".to_vec())]);
    }
}
