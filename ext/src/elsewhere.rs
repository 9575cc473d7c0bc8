//! What stands in for the Linux-only modules on other platforms: nothing
//! can be made of them, so every caller takes its portable way (see
//! platform.rs). On Linux the same ways are taken when the real modules
//! decline (ORQ_PORTABLE), so these stubs only have to compile.

pub mod turnstile {
    //! No turn file: writers wait for SQLite's lock in txn.rs's own way.

    use std::marker::PhantomData;
    use std::time::Instant;

    pub enum Turnstile {}

    pub struct Turn<'t>(PhantomData<&'t Turnstile>);

    impl Turnstile {
        pub fn open(_db_path: &str) -> Option<Turnstile> {
            None
        }

        pub fn enter(&self, _deadline: impl FnOnce() -> Instant) -> Option<Turn<'_>> {
            match *self {}
        }
    }
}

pub mod commit_watch {
    //! No file watch: queue_wait polls data_version.

    use crate::ears::Ears;

    pub enum Watcher {}

    impl Watcher {
        pub fn new(_db_path: &str) -> Option<Watcher> {
            None
        }

        pub fn listen(&self) -> Box<dyn Ears + '_> {
            match *self {}
        }
    }
}
