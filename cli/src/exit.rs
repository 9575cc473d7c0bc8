//! Exit statuses that mean something, and the failure that carries one.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    NoChange = 1,
    Usage = 2,
    Database = 3,
    /// `orq run`: some items ended dead or cancelled.
    JobsFailed = 4,
    /// An orq function's `not_found` (no job with that id): bad usage
    /// (status 2) to the command line, 404 to `orq serve`.
    NotFound,
    /// A cluster lost a request that may not be sent again (an enqueue
    /// without a key, a claim): it may or may not have been applied.
    /// Status 3, a database problem, to the command line.
    Unknown,
    /// `orq health`: a check warns (status 1, as the issue asks: shared
    /// with NoChange, which health never returns).
    HealthWarning,
    /// `orq health`: a check is critical (status 2, shared with Usage).
    HealthCritical,
    /// In a job's command (`orq step`, `orq sleep`, `orq await`): the job
    /// left its worker (it sleeps, awaits a signal, or a step is tried
    /// again later) or lost its lease, so the command must end (status 5).
    RunOver,
    /// In a job's command: a step's command failed with no tries left, or
    /// no signal came within the timeout (status 1).
    Failed,
}

impl Code {
    /// The process exit status.
    pub fn status(self) -> i32 {
        match self {
            Code::HealthWarning | Code::Failed => 1,
            Code::HealthCritical | Code::NotFound => 2,
            Code::Unknown => 3,
            Code::RunOver => 5,
            other => other as i32,
        }
    }
}

#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Failure>;

pub fn usage(message: impl Into<String>) -> Failure {
    Failure { code: Code::Usage, message: message.into() }
}

impl From<rusqlite::Error> for Failure {
    /// By the error's kind (docs/errors.md), never its text: bad input,
    /// an unknown job and a refused key are usage errors; SQLite's trouble
    /// (locks, I/O, a full disk, a read-only, corrupt or unopenable file, a
    /// schema from a newer orq) is a database error.
    fn from(e: rusqlite::Error) -> Self {
        use orq::Kind::*;
        let code = match orq::Kind::of_rusqlite(&e) {
            NotFound => Code::NotFound,
            Invalid | Conflict => Code::Usage,
            Schema | Busy | ReadOnly | Full | Corrupt | CannotOpen | Io | Other => Code::Database,
        };
        let message = match &e {
            rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
            other => other.to_string(),
        };
        Failure { code, message }
    }
}
