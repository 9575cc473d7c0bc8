//! Durations on the command line: plain seconds (`90`, `0.5`) or with a
//! unit (`500ms`, `30s`, `15m`, `2h`, `7d`).

pub fn parse_seconds(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("'{text}' is not a duration (try 30s, 15m, 2h, 7d)"))?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("unknown unit in '{text}' (use ms, s, m, h or d)")),
    };
    if !n.is_finite() || n < 0.0 {
        return Err(format!("'{text}' must not be negative"));
    }
    Ok(n * scale)
}

#[cfg(test)]
mod tests {
    use super::parse_seconds;

    #[test]
    fn units() {
        assert_eq!(parse_seconds("90").unwrap(), 90.0);
        assert_eq!(parse_seconds("500ms").unwrap(), 0.5);
        assert_eq!(parse_seconds("2h").unwrap(), 7200.0);
        assert_eq!(parse_seconds("7d").unwrap(), 604800.0);
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("3 weeks").is_err());
        assert!(parse_seconds("x").is_err());
    }
}
