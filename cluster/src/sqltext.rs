//! The little the client needs to know about SQL text: where its parameters
//! are (to write them as literals when there are more than one request can
//! bind) and where its last statement ends.
//!
//! The 1.11 server reads parameters only as a tuple whose count is one byte,
//! so a request binds at most 255 values. With more, every parameter of the
//! first statement is written into the SQL as a literal instead, numbered
//! exactly as SQLite numbers them (`?`, `?NNN`, `:name`, `@name`, `$name`).
//! Literals are exact: text and blobs are quoted, integers and reals are
//! spelled so that SQLite computes the very same value (see `real_literal`).

use std::fmt::Write;

use crate::message::{Value, SQLITE_MISUSE};
use crate::Error;

/// SQLITE_RANGE: more parameters given than the statement has.
const SQLITE_RANGE: u64 = 25;
/// SQLite's largest parameter number (SQLITE_MAX_VARIABLE_NUMBER).
const MAX_VARIABLE_NUMBER: usize = 32766;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Space,
    Comment,
    Semicolon,
    Param,
    Other,
}

/// Splits SQL into tokens, as far as parameters, quoting and statement ends
/// matter; everything else is `Other`. Token boundaries fall on ASCII bytes
/// (or the end), so they are always char boundaries.
struct Tokens<'a> {
    sql: &'a [u8],
    pos: usize,
}

/// Characters SQLite allows inside identifiers (its IdChar): note `$`.
fn id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

impl Iterator for Tokens<'_> {
    type Item = (Kind, usize, usize);

    fn next(&mut self) -> Option<(Kind, usize, usize)> {
        let s = self.sql;
        let start = self.pos;
        let c = *s.get(start)?;
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        let mut i = start + 1;
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {
                while matches!(at(i), b' ' | b'\t' | b'\n' | b'\r' | 0x0c) {
                    i += 1;
                }
                Kind::Space
            }
            b'-' if at(i) == b'-' => {
                while i < s.len() && s[i] != b'\n' {
                    i += 1;
                }
                i = (i + 1).min(s.len());
                Kind::Comment
            }
            b'/' if at(i) == b'*' => {
                i += 1;
                while i < s.len() && !(s[i] == b'*' && at(i + 1) == b'/') {
                    i += 1;
                }
                i = (i + 2).min(s.len());
                Kind::Comment
            }
            b'\'' | b'"' | b'`' => {
                // Quoted until the closing quote; a doubled quote is an escape.
                loop {
                    if i >= s.len() {
                        break;
                    }
                    if s[i] == c {
                        if at(i + 1) == c {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                Kind::Other
            }
            b'[' => {
                while i < s.len() && s[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(s.len());
                Kind::Other
            }
            b';' => Kind::Semicolon,
            b'?' => {
                while at(i).is_ascii_digit() {
                    i += 1;
                }
                Kind::Param
            }
            b':' | b'@' | b'$' | b'#' => {
                // As SQLite's tokenizer: identifier characters, with Tcl's
                // `::` and a `(...)` suffix allowed.
                let mut n = 0;
                while i < s.len() {
                    if id_char(s[i]) {
                        n += 1;
                        i += 1;
                    } else if s[i] == b'(' && n > 0 {
                        while i < s.len() && !s[i].is_ascii_whitespace() && s[i] != b')' {
                            i += 1;
                        }
                        if at(i) == b')' {
                            i += 1;
                        }
                        break;
                    } else if s[i] == b':' && at(i + 1) == b':' {
                        i += 2;
                    } else {
                        break;
                    }
                }
                if n > 0 {
                    Kind::Param
                } else {
                    Kind::Other
                }
            }
            c if id_char(c) => {
                // Whole words, so that a `$` inside an identifier is no parameter.
                while i < s.len() && id_char(s[i]) {
                    i += 1;
                }
                Kind::Other
            }
            _ => Kind::Other,
        };
        self.pos = i;
        Some((kind, start, i))
    }
}

fn tokens(sql: &str) -> Tokens<'_> {
    Tokens { sql: sql.as_bytes(), pos: 0 }
}

/// The SQL without trailing whitespace, comments and semicolons.
///
/// The 1.11 server runs EXEC_SQL statement by statement and reports the
/// last-insert id and change count of the statement it ran last, unless
/// something is left after it: then its last "statement" is empty and it
/// reports zeros. Cutting the trailing trivia keeps the counts of the last
/// real statement.
pub(crate) fn trim_end(sql: &str) -> &str {
    let end = tokens(sql)
        .filter(|&(k, _, _)| !matches!(k, Kind::Space | Kind::Comment | Kind::Semicolon))
        .last()
        .map_or(0, |(_, _, e)| e);
    &sql[..end]
}

/// Writes every parameter of the first statement of `sql` as a literal, for
/// when there are more parameters than one request can bind. The server binds
/// parameters to the first statement only, so the rest is kept as it is.
pub(crate) fn inline_params(sql: &str, params: &[Value]) -> Result<String, Error> {
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut names: Vec<(&str, usize)> = Vec::new();
    let mut highest = 0usize; // SQLite's nVar: the largest number handed out so far
    let mut seen_statement = false;
    let mut copied = 0;
    for (kind, start, end) in tokens(sql) {
        match kind {
            Kind::Semicolon if seen_statement => {
                out.push_str(&sql[copied..]);
                copied = sql.len();
                break;
            }
            Kind::Space | Kind::Comment | Kind::Semicolon => continue,
            Kind::Other => {
                seen_statement = true;
                continue;
            }
            Kind::Param => seen_statement = true,
        }
        let token = &sql[start..end];
        let number = if token == "?" {
            highest += 1;
            highest
        } else if let Some(digits) = token.strip_prefix('?') {
            match digits.parse::<usize>() {
                Ok(n) if (1..=MAX_VARIABLE_NUMBER).contains(&n) => {
                    highest = highest.max(n);
                    n
                }
                // Left for SQLite to refuse.
                _ => continue,
            }
        } else if let Some(&(_, n)) = names.iter().find(|(name, _)| *name == token) {
            n
        } else {
            highest += 1;
            names.push((token, highest));
            highest
        };
        // Parameters beyond those given stay unbound, which SQLite reads as NULL.
        if let Some(value) = params.get(number - 1) {
            out.push_str(&sql[copied..start]);
            push_literal(&mut out, value)?;
            copied = end;
        }
    }
    out.push_str(&sql[copied..]);
    if params.len() > highest {
        return Err(Error::Sql {
            code: SQLITE_RANGE,
            message: format!("{} parameters given but the statement has {highest}", params.len()),
        });
    }
    Ok(out)
}

fn push_literal(out: &mut String, value: &Value) -> Result<(), Error> {
    match value {
        Value::Null => out.push_str("NULL"),
        // In parentheses, so that `1-?` cannot become the comment `1--5`.
        Value::Integer(i64::MIN) => out.push_str("(-9223372036854775807-1)"),
        Value::Integer(v) if *v < 0 => {
            let _ = write!(out, "({v})");
        }
        Value::Integer(v) => out.push_str(&v.to_string()),
        Value::Real(v) => out.push_str(&real_literal(*v)),
        Value::Text(s) => {
            if s.contains('\0') {
                return Err(Error::Sql {
                    code: SQLITE_MISUSE,
                    message: "a text parameter contains a NUL byte".into(),
                });
            }
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        Value::Blob(b) => {
            out.push_str("X'");
            for byte in b {
                let _ = write!(out, "{byte:02X}");
            }
            out.push('\'');
        }
    }
    Ok(())
}

/// A real as an expression SQLite evaluates to exactly the same double.
///
/// A decimal literal would not do: SQLite 3.40's text-to-double conversion is
/// not correctly rounded (about 1 in 400 random doubles comes back one ulp
/// off). So the value is written as `m * 2^e` with an integer `m` below 2^53:
/// CAST(m AS REAL) is exact, and so is every multiplication or division by a
/// power of two up to 2^62 on the way (each intermediate is `m` times a power
/// of two between 1 and the result, hence representable).
fn real_literal(x: f64) -> String {
    if x.is_nan() {
        // SQLite stores a bound NaN as NULL.
        return "NULL".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "9e999".into() } else { "(-9e999)".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "(-0.0)".into() } else { "0.0".into() };
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut e) =
        if exponent == 0 { (fraction, -1074) } else { (fraction | 1 << 52, exponent - 1075) };
    while m & 1 == 0 {
        m >>= 1;
        e += 1;
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let mut s = format!("(CAST({sign}{m} AS REAL)");
    let op = if e >= 0 { '*' } else { '/' };
    let mut k = e.unsigned_abs();
    while k > 0 {
        let step = k.min(62);
        s.push(op);
        s.push_str(&(1u64 << step).to_string());
        k -= step;
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(n: i64) -> Vec<Value> {
        (1..=n).map(Value::Integer).collect()
    }

    #[test]
    fn numbering_follows_sqlite() {
        let sql = "SELECT ?, :a, ?5, :a, ?, '?', \"?\", [?], a$b, -- ?\n /* ? */ @x";
        let p = ints(7);
        assert_eq!(
            inline_params(sql, &p).unwrap(),
            "SELECT 1, 2, 5, 2, 6, '?', \"?\", [?], a$b, -- ?\n /* ? */ 7"
        );
    }

    #[test]
    fn only_the_first_statement_is_bound() {
        assert_eq!(
            inline_params("; INSERT INTO t VALUES (?); SELECT ?", &ints(1)).unwrap(),
            "; INSERT INTO t VALUES (1); SELECT ?"
        );
    }

    #[test]
    fn too_many_parameters_is_a_range_error() {
        assert!(matches!(inline_params("SELECT ?", &ints(2)), Err(Error::Sql { code: 25, .. })));
    }

    #[test]
    fn literals_are_safe() {
        let p = vec![
            Value::Integer(-5),
            Value::Integer(i64::MIN),
            Value::Text("it's".into()),
            Value::Blob(vec![0, 255]),
            Value::Null,
            Value::Real(-0.75),
        ];
        assert_eq!(
            inline_params("SELECT 1-?, ?, ?, ?, ?, ?", &p).unwrap(),
            "SELECT 1-(-5), (-9223372036854775807-1), 'it''s', X'00FF', NULL, (CAST(-3 AS REAL)/4)"
        );
        assert_eq!(real_literal(8.0), "(CAST(1 AS REAL)*8)");
        assert_eq!(real_literal(f64::from_bits(1)).matches('/').count(), 18);
    }

    #[test]
    fn trailing_trivia_is_trimmed() {
        assert_eq!(trim_end("INSERT INTO t VALUES (';'); -- done\n ;; "), "INSERT INTO t VALUES (';')");
        assert_eq!(trim_end("  "), "");
    }
}
