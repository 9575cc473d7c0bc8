//! Encoding and decoding of dqlite wire-protocol messages (protocol version 1,
//! as libdqlite 1.11 speaks it).
//!
//! Layout facts this module relies on (dqlite src/lib/serialize.h, message.h,
//! tuple.c, query.c at v1.11.1):
//! - every message is an 8-byte header (u32 body length in 8-byte words, u8
//!   type, u8 schema/flags, u16 reserved) and a body that is a whole number of
//!   words; all integers are little-endian;
//! - text is NUL-terminated and zero-padded to the next word boundary, so it
//!   cannot carry NUL bytes;
//! - a blob is a u64 length followed by the bytes, zero-padded to a word;
//! - statement parameters are a tuple: u8 count, one u8 type code per value,
//!   zero-padded so that count + codes fill whole words, then the values. The
//!   1.11 server reads only this "schema 0" form (it never looks at the header's
//!   schema byte), so at most 255 values fit;
//! - a ROWS response is the column count (u64), the column names (text), then
//!   rows, then a u64 marker: `ROWS_PART` (more responses follow, unasked) or
//!   `ROWS_DONE`. Each row is a header of 4-bit type codes padded to whole words,
//!   then the values. Every part repeats the column count and names.

use crate::Error;

/// The protocol version sent in the handshake.
pub(crate) const PROTOCOL_VERSION: u64 = 1;

/// Size of a message header, and the unit every body is padded to.
pub(crate) const WORD: usize = 8;

/// Request types (dqlite src/protocol.h).
pub(crate) mod request {
    pub const LEADER: u8 = 0;
    pub const OPEN: u8 = 3;
    pub const EXEC_SQL: u8 = 8;
    pub const QUERY_SQL: u8 = 9;
    pub const ADD: u8 = 12;
    pub const ASSIGN: u8 = 13;
    pub const REMOVE: u8 = 14;
    pub const CLUSTER: u8 = 16;
    pub const TRANSFER: u8 = 17;
}

/// Response types (dqlite src/protocol.h).
pub(crate) mod response {
    pub const FAILURE: u8 = 0;
    pub const SERVER: u8 = 1;
    pub const SERVERS: u8 = 3;
    pub const DB: u8 = 4;
    pub const RESULT: u8 = 6;
    pub const ROWS: u8 = 7;
    pub const EMPTY: u8 = 8;
}

/// Format 1 of the CLUSTER request: id, address and role of every node.
pub(crate) const CLUSTER_FORMAT_V1: u64 = 1;

/// End of one batch of rows; the server sends the next batch without being asked.
const ROWS_PART: u64 = 0xeeee_eeee_eeee_eeee;
/// End of the result set.
const ROWS_DONE: u64 = 0xffff_ffff_ffff_ffff;

/// The most parameters one schema-0 tuple can carry (its count is a u8).
pub(crate) const MAX_WIRE_PARAMS: usize = 255;

// Value type codes: SQLite's own, plus dqlite's special ones.
const INTEGER: u8 = 1;
const FLOAT: u8 = 2;
const TEXT: u8 = 3;
const BLOB: u8 = 4;
const NULL: u8 = 5;
const UNIXTIME: u8 = 9;
const ISO8601: u8 = 10;
const BOOLEAN: u8 = 11;

/// SQLITE_MISUSE: the result code of requests refused before they are sent.
pub(crate) const SQLITE_MISUSE: u64 = 21;
/// SQLITE_TOOBIG: the result code for results 1.11 cannot send.
pub(crate) const SQLITE_TOOBIG: u64 = 18;

/// A SQL value as sent and received (maps 1:1 to SQLite's types).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The result set of a query: column names and every row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Rounds `n` up to a whole number of words.
pub(crate) fn pad(n: usize) -> usize {
    n.div_ceil(WORD) * WORD
}

/// The error for anything the server sent that does not parse: the stream can
/// no longer be trusted, so the outcome of the request is unknown.
pub(crate) fn malformed(what: &str) -> Error {
    Error::Unavailable(format!("malformed {what} response from the server"))
}

/// A request being encoded.
pub(crate) struct Request {
    kind: u8,
    body: Vec<u8>,
}

impl Request {
    pub(crate) fn new(kind: u8) -> Request {
        Request { kind, body: Vec::with_capacity(64) }
    }

    pub(crate) fn u64(mut self, v: u64) -> Request {
        self.body.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends NUL-terminated, padded text. `what` names the text in the error
    /// for an embedded NUL, which the server would read as the end of the text
    /// (and then misread everything after it).
    pub(crate) fn text(mut self, what: &str, s: &str) -> Result<Request, Error> {
        check_no_nul(what, s)?;
        self.put_text(s);
        Ok(self)
    }

    fn put_text(&mut self, s: &str) {
        self.body.extend_from_slice(s.as_bytes());
        let end = self.body.len() + 1;
        self.body.resize(pad(end), 0);
    }

    /// Appends a schema-0 parameter tuple; nothing at all for no parameters
    /// (the server binds nothing when the body ends after the SQL text).
    pub(crate) fn params(mut self, params: &[Value]) -> Result<Request, Error> {
        if params.is_empty() {
            return Ok(self);
        }
        if params.len() > MAX_WIRE_PARAMS {
            return Err(Error::Sql {
                code: SQLITE_MISUSE,
                message: format!("{} parameters given; one request carries at most 255", params.len()),
            });
        }
        for (i, p) in params.iter().enumerate() {
            if let Value::Text(s) = p {
                check_no_nul(&format!("text parameter {}", i + 1), s)?;
            }
        }
        let start = self.body.len();
        self.body.push(params.len() as u8);
        self.body.extend(params.iter().map(type_code));
        let end = start + pad(1 + params.len());
        self.body.resize(end, 0);
        for p in params {
            match p {
                Value::Null => self.body.extend_from_slice(&0u64.to_le_bytes()),
                Value::Integer(v) => self.body.extend_from_slice(&v.to_le_bytes()),
                Value::Real(v) => self.body.extend_from_slice(&v.to_bits().to_le_bytes()),
                Value::Text(s) => self.put_text(s),
                Value::Blob(b) => {
                    self.body.extend_from_slice(&(b.len() as u64).to_le_bytes());
                    self.body.extend_from_slice(b);
                    let end = pad(self.body.len());
                    self.body.resize(end, 0);
                }
            }
        }
        Ok(self)
    }

    /// The whole message: header and body.
    pub(crate) fn into_bytes(self) -> Result<Vec<u8>, Error> {
        debug_assert_eq!(self.body.len() % WORD, 0);
        let words = u32::try_from(self.body.len() / WORD).map_err(|_| Error::Sql {
            code: SQLITE_MISUSE,
            message: format!("request of {} bytes is too large for the wire protocol", self.body.len()),
        })?;
        let mut out = Vec::with_capacity(WORD + self.body.len());
        out.extend_from_slice(&words.to_le_bytes());
        out.push(self.kind);
        out.push(0); // schema 0: the only one 1.11 knows
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

fn check_no_nul(what: &str, s: &str) -> Result<(), Error> {
    if s.as_bytes().contains(&0) {
        return Err(Error::Sql {
            code: SQLITE_MISUSE,
            message: format!("{what} contains a NUL byte, which dqlite's wire protocol cannot carry"),
        });
    }
    Ok(())
}

fn type_code(v: &Value) -> u8 {
    match v {
        Value::Null => NULL,
        Value::Integer(_) => INTEGER,
        Value::Real(_) => FLOAT,
        Value::Text(_) => TEXT,
        Value::Blob(_) => BLOB,
    }
}

/// Splits a response header into (body length in bytes, type).
pub(crate) fn parse_header(h: &[u8; WORD]) -> (usize, u8) {
    let words = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    (words as usize * WORD, h[4])
}

/// A cursor over a response body; every read checks bounds.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, pos: 0, what }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| malformed(self.what))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn peek_u64(&self) -> Option<u64> {
        let b = self.buf.get(self.pos..self.pos + 8)?;
        Some(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// NUL-terminated, padded text. SQLite can hold text that is not valid
    /// UTF-8; such bytes become U+FFFD rather than failing the whole response.
    pub(crate) fn text(&mut self) -> Result<String, Error> {
        let rest = &self.buf[self.pos..];
        let len = rest.iter().position(|&b| b == 0).ok_or_else(|| malformed(self.what))?;
        let s = String::from_utf8_lossy(&rest[..len]).into_owned();
        self.take(pad(len + 1))?;
        Ok(s)
    }

    fn blob(&mut self) -> Result<Vec<u8>, Error> {
        let len = usize::try_from(self.u64()?).map_err(|_| malformed(self.what))?;
        let padded = len.checked_add(WORD - 1).ok_or_else(|| malformed(self.what))? / WORD * WORD;
        let b = self.take(padded)?;
        Ok(b[..len].to_vec())
    }
}

/// Decodes a FAILURE body into (code, message).
///
/// libdqlite 1.11 has a bug here: when a query fails while stepping (a runtime
/// error, not a prepare error), it appends the failure to the response buffer
/// that already holds the column count, the column names and maybe some rows,
/// so a plain decode reads the column count as the code and the first column
/// name as the message (go-dqlite 1.11 reports exactly that). The failure is
/// always the tail of the body, so when the plain decode leaves bytes over, the
/// code and message are recovered from the end instead.
pub(crate) fn decode_failure(body: &[u8]) -> Result<(u64, String), Error> {
    let mut r = Reader::new(body, "failure");
    let code = r.u64()?;
    let message = r.text()?;
    if r.remaining() == 0 {
        return Ok((code, message));
    }
    failure_from_tail(body).ok_or_else(|| malformed("failure"))
}

/// The message is the last run of non-NUL bytes; it starts on a word boundary
/// right after the code word (whose high bytes are zero, which is what stops
/// the backwards scan), and its padding reaches exactly the end of the body.
fn failure_from_tail(body: &[u8]) -> Option<(u64, String)> {
    let last = body.iter().rposition(|&b| b != 0)?;
    let start = body[..=last].iter().rposition(|&b| b == 0).map_or(0, |z| z + 1);
    if start < WORD || start % WORD != 0 || pad(last - start + 2) != body.len() - start {
        return None;
    }
    let mut r = Reader::new(&body[start - WORD..], "failure");
    let code = r.u64().ok()?;
    let message = r.text().ok()?;
    Some((code, message))
}

/// Whether a ROWS response ended the result set or more parts follow.
#[derive(Debug, PartialEq)]
pub(crate) enum RowsEnd {
    Part,
    Done,
}

/// Decodes one ROWS response, appending its rows to `rows` (and setting the
/// column names from the first part).
pub(crate) fn decode_rows(body: &[u8], rows: &mut Rows, first: bool) -> Result<RowsEnd, Error> {
    const WHAT: &str = "rows";
    let mut r = Reader::new(body, WHAT);
    let n = r.u64()?;
    // Each column name takes at least a word: a bound that rejects garbage
    // counts before anything is allocated for them.
    let n = usize::try_from(n).ok().filter(|&n| n <= r.remaining() / WORD).ok_or_else(|| malformed(WHAT))?;
    let mut columns = Vec::with_capacity(n);
    for _ in 0..n {
        columns.push(r.text()?);
    }
    if first {
        rows.columns = columns;
    } else if columns.len() != rows.columns.len() {
        return Err(malformed(WHAT));
    }
    let header_len = pad(n.div_ceil(2));
    let before = rows.rows.len();
    loop {
        // 0xe and 0xf are no type code, so a row header never starts like a marker.
        match r.peek_u64() {
            Some(ROWS_PART) if rows.rows.len() == before => return Err(names_too_long(&rows.columns)),
            Some(ROWS_PART) => return Ok(RowsEnd::Part),
            Some(ROWS_DONE) => return Ok(RowsEnd::Done),
            None => return Err(malformed(WHAT)),
            Some(_) if n == 0 => return Err(malformed(WHAT)),
            Some(_) => {}
        }
        let header = r.take(header_len)?;
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            let code = (header[i / 2] >> ((i % 2) * 4)) & 0x0f;
            row.push(decode_value(&mut r, code)?);
        }
        rows.rows.push(row);
    }
}

/// The error for a part without rows. libdqlite 1.11 fills a response until
/// it holds a memory page (4096 bytes), checking BEFORE it steps the statement;
/// when the column count and names alone fill the page, every part it sends is
/// just the names again, forever, and the statement never runs. The caller
/// must close the connection to stop it (the server then stops streaming).
fn names_too_long(columns: &[String]) -> Error {
    let bytes: usize = columns.iter().map(|c| pad(c.len() + 1)).sum();
    Error::Sql {
        code: SQLITE_TOOBIG,
        message: format!(
            "the result's {} column names take {bytes} bytes; libdqlite 1.11 cannot send rows after \
             a page (4096 bytes) of names, so the query was not run: give the columns short names (AS)",
            columns.len()
        ),
    }
}

fn decode_value(r: &mut Reader<'_>, code: u8) -> Result<Value, Error> {
    Ok(match code {
        INTEGER | UNIXTIME | BOOLEAN => Value::Integer(r.u64()? as i64),
        FLOAT => Value::Real(f64::from_bits(r.u64()?)),
        TEXT => Value::Text(r.text()?),
        // The server sends a NULL in a DATETIME/DATE/TIMESTAMP column as an
        // empty ISO8601 string (query.c); give it back as the NULL it was.
        ISO8601 => match r.text()? {
            s if s.is_empty() => Value::Null,
            s => Value::Text(s),
        },
        BLOB => Value::Blob(r.blob()?),
        NULL => {
            r.u64()?;
            Value::Null
        }
        _ => return Err(malformed("rows")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_padded_with_at_least_one_nul() {
        let b = Request::new(0).text("t", "1234567").unwrap().into_bytes().unwrap();
        assert_eq!(b.len(), 16);
        let b = Request::new(0).text("t", "12345678").unwrap().into_bytes().unwrap();
        assert_eq!(b.len(), 24);
        assert_eq!(&b[0..4], &2u32.to_le_bytes());
    }

    #[test]
    fn params_header_fills_whole_words() {
        let p = vec![Value::Integer(1); 7];
        let b = Request::new(0).params(&p).unwrap().into_bytes().unwrap();
        assert_eq!(b.len(), 8 + 8 + 7 * 8);
        let p = vec![Value::Null; 8];
        let b = Request::new(0).params(&p).unwrap().into_bytes().unwrap();
        assert_eq!(b.len(), 8 + 16 + 8 * 8);
        assert_eq!(b[8], 8);
    }

    #[test]
    fn nul_in_text_is_refused() {
        assert!(matches!(Request::new(0).text("sql", "a\0b"), Err(Error::Sql { .. })));
        assert!(matches!(Request::new(0).params(&[Value::Text("\0".into())]), Err(Error::Sql { .. })));
    }

    #[test]
    fn failure_after_column_names_is_recovered() {
        let mut body = Vec::new();
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(b"abs(-1)\0");
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(b"integer overflow\0\0\0\0\0\0\0\0");
        assert_eq!(decode_failure(&body).unwrap(), (1, "integer overflow".into()));
        let mut plain = Vec::new();
        plain.extend_from_slice(&19u64.to_le_bytes());
        plain.extend_from_slice(b"UNIQUE\0\0");
        assert_eq!(decode_failure(&plain).unwrap(), (19, "UNIQUE".into()));
    }

    #[test]
    fn malformed_rows_do_not_panic() {
        let mut rows = Rows::default();
        for body in
            [&[][..], &[1, 0, 0, 0, 0, 0, 0, 0][..], &[0xff; 8][..], &[5, 0, 0, 0, 0, 0, 0, 0, b'a', 0][..]]
        {
            let _ = decode_rows(body, &mut rows, true);
        }
        let mut body = Vec::new();
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(b"x\0\0\0\0\0\0\0");
        body.extend_from_slice(&[BLOB, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_rows(&body, &mut rows, true).is_err());
    }
}
