//! Golden SQL files run through the real sqlite3 shell (Debian's, the one
//! users type into): tests/sql/NAME.sql must print exactly NAME.expected.
//! ORQ_BLESS=1 rewrites the expected files from the current output.

use std::process::Command;

use orq_tests::{ext_path, root};

#[test]
fn golden_sql_files_print_what_they_expect() {
    let dir = root().join("tests/sql");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "golden files missing in {}", dir.display());
    let bless = std::env::var_os("ORQ_BLESS").is_some();
    let mut failures = Vec::new();
    for file in &files {
        // stdbuf keeps stdout unbuffered so errors (stderr) land in order.
        let output = Command::new("stdbuf")
            .args(["-o0", "-e0", "sqlite3", "-batch", "-init", "/dev/null", "-cmd"])
            .arg(format!(".load {}", ext_path().display()))
            .arg(":memory:")
            .stdin(std::fs::File::open(file).unwrap())
            .output()
            .expect("run the sqlite3 shell (apt-get install sqlite3)");
        let mut got = String::from_utf8_lossy(&output.stdout).into_owned();
        got.push_str(&String::from_utf8_lossy(&output.stderr));
        let expected_path = file.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!("{}:\n--- expected\n{expected}\n--- got\n{got}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
