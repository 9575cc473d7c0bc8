//! Reading SQL arguments with errors that name the argument and what was
//! wrong with it. Shared by scalar functions and table-valued functions.

use rusqlite::types::ValueRef;
use serde::de::IgnoredAny;

use crate::error::{invalid, Result};
use crate::options::excerpt;

/// The arguments of one call.
pub struct Args<'a> {
    values: Vec<ValueRef<'a>>,
}

impl<'a> Args<'a> {
    pub fn new(values: Vec<ValueRef<'a>>) -> Self {
        Args { values }
    }

    /// Checks the argument count against the function's signature.
    pub fn arity(&self, min: usize, max: usize, signature: &str) -> Result<()> {
        let n = self.values.len();
        if n < min || n > max {
            return Err(invalid(format!(
                "takes {signature}, got {n} argument{}",
                if n == 1 { "" } else { "s" }
            )));
        }
        Ok(())
    }

    /// Argument `i`; absent trailing arguments read as NULL.
    fn get(&self, i: usize) -> ValueRef<'a> {
        self.values.get(i).copied().unwrap_or(ValueRef::Null)
    }

    pub fn opt_text(&self, i: usize, name: &str) -> Result<Option<&'a str>> {
        match self.get(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => {
                std::str::from_utf8(t).map(Some).map_err(|_| invalid(format!("{name} is not valid UTF-8")))
            }
            other => Err(wrong_type(name, "text", other)),
        }
    }

    pub fn text(&self, i: usize, name: &str) -> Result<&'a str> {
        self.opt_text(i, name)?.ok_or_else(|| null_arg(name))
    }

    pub fn opt_int(&self, i: usize, name: &str) -> Result<Option<i64>> {
        match self.get(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            ValueRef::Real(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            other => Err(wrong_type(name, "an integer", other)),
        }
    }

    pub fn int(&self, i: usize, name: &str) -> Result<i64> {
        self.opt_int(i, name)?.ok_or_else(|| null_arg(name))
    }

    /// A number (of seconds, usually).
    pub fn opt_number(&self, i: usize, name: &str) -> Result<Option<f64>> {
        match self.get(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n as f64)),
            ValueRef::Real(f) => Ok(Some(f)),
            other => Err(wrong_type(name, "a number", other)),
        }
    }

    pub fn number(&self, i: usize, name: &str) -> Result<f64> {
        self.opt_number(i, name)?.ok_or_else(|| null_arg(name))
    }

    /// JSON text, checked; a number counts as its JSON text.
    pub fn opt_json(&self, i: usize, name: &str) -> Result<Option<String>> {
        match self.get(i) {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n.to_string())),
            ValueRef::Real(f) if f.is_finite() => Ok(Some(serde_json::to_string(&f).unwrap_or_default())),
            ValueRef::Text(_) => {
                let text = self.text(i, name)?;
                check_json(name, text)?;
                Ok(Some(text.to_string()))
            }
            other => Err(wrong_type(name, "JSON text", other)),
        }
    }

    pub fn json(&self, i: usize, name: &str) -> Result<String> {
        self.opt_json(i, name)?
            .ok_or_else(|| invalid(format!("{name} must not be NULL (for a JSON null pass 'null')")))
    }
}

/// The deepest a JSON value orq stores (a payload, a result) may nest
/// arrays and objects. serde_json, which reads them again (a workflow spec,
/// the orq worker), refuses 128 levels; a workflow spec wraps a payload in
/// three more: 100 leaves room, and is more than any real payload needs.
pub const MAX_JSON_DEPTH: usize = 100;

/// Checks JSON text named `name`: valid, and nested at most MAX_JSON_DEPTH
/// levels. (Reading it as IgnoredAny has no depth limit of its own.)
pub fn check_json(name: &str, text: &str) -> Result<()> {
    serde_json::from_str::<IgnoredAny>(text)
        .map_err(|e| invalid(format!("{name} is not valid JSON ({e}): {}", excerpt(text))))?;
    check_json_depth(name, text)
}

/// Refuses valid JSON text that nests arrays and objects deeper than
/// MAX_JSON_DEPTH levels (scanned, not parsed: a parser would recurse).
pub fn check_json_depth(name: &str, text: &str) -> Result<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(invalid(format!(
                        "{name} nests deeper than {MAX_JSON_DEPTH} levels, the most orq accepts in a JSON value"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn null_arg(name: &str) -> crate::error::Error {
    invalid(format!("{name} must not be NULL"))
}

fn wrong_type(name: &str, want: &str, got: ValueRef<'_>) -> crate::error::Error {
    let shown = match got {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(n) => format!("integer {n}"),
        ValueRef::Real(f) => format!("real {f}"),
        ValueRef::Text(t) => format!("text '{}'", excerpt(&String::from_utf8_lossy(t))),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    };
    invalid(format!("{name} must be {want}, got {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_arrays_and_objects_not_brackets_in_strings() {
        let at = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_json("p", &at(MAX_JSON_DEPTH)).is_ok());
        assert!(check_json("p", &at(MAX_JSON_DEPTH + 1)).is_err());
        let brackets = format!(r#"{{"s":"{}\"[{{"}}"#, "[".repeat(500));
        assert!(check_json("p", &brackets).is_ok(), "{brackets}");
        let objects = format!("{}1{}", r#"{"a":"#.repeat(101), "}".repeat(101));
        assert!(check_json("p", &objects).unwrap_err().to_string().contains("nests deeper than 100 levels"));
    }
}
