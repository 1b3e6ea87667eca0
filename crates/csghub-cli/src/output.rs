//! Where things are printed: results on stdout (human text or `--json`), logs and errors on
//! stderr (colour only on a terminal and without `NO_COLOR`), and small formatting helpers.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::cli::{GlobalArgs, LogLevel};
use crate::error::CliError;

/// The printer of one run.
#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    quiet: bool,
    level: LogLevel,
    color: bool,
    stderr_tty: bool,
}

impl Output {
    /// From the global flags and `NO_COLOR`.
    pub fn new(global: &GlobalArgs, no_color: bool) -> Output {
        let stderr_tty = std::io::stderr().is_terminal();
        let level = if global.verbose {
            LogLevel::Debug
        } else {
            global.log_level
        };
        Output {
            json: global.json,
            quiet: global.quiet,
            level,
            color: stderr_tty && !no_color,
            stderr_tty,
        }
    }

    /// Whether results are JSON.
    #[allow(dead_code, reason = "for the transfer commands, wired in later")]
    pub fn json(&self) -> bool {
        self.json
    }

    /// Whether progress bars may be drawn: stderr is a terminal, no `--quiet`, no `--json`.
    pub fn progress_enabled(&self) -> bool {
        self.stderr_tty && !self.quiet && !self.json
    }

    /// Whether debug logs are on.
    pub fn debug_enabled(&self) -> bool {
        self.level <= LogLevel::Debug
    }

    fn log(&self, prefix: &str, color: &str, msg: &dyn Display) {
        let mut err = std::io::stderr().lock();
        // A failing stderr leaves nowhere to report to.
        let _ = if prefix.is_empty() {
            writeln!(err, "{msg}")
        } else if self.color {
            writeln!(err, "\x1b[{color}m{prefix}:\x1b[0m {msg}")
        } else {
            writeln!(err, "{prefix}: {msg}")
        };
    }

    /// A debug log (with `-v` or `-L debug`).
    pub fn debug(&self, msg: impl Display) {
        if self.debug_enabled() {
            self.log("debug", "2", &msg);
        }
    }

    /// An informational log (hidden by `--quiet` and `-L warning`).
    pub fn info(&self, msg: impl Display) {
        if !self.quiet && self.level <= LogLevel::Info {
            self.log("", "", &msg);
        }
    }

    /// A warning.
    pub fn warn(&self, msg: impl Display) {
        if self.level <= LogLevel::Warning {
            self.log("warning", "33", &msg);
        }
    }

    /// The final error line.
    pub fn error(&self, err: &CliError) {
        self.log("error", "31", err);
    }

    /// Writes `text` to stdout. A closed pipe (`| head`) ends the program quietly.
    pub fn print(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        let res = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        match res {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            Err(e) => Err(CliError::io("write results to", "stdout", e)),
        }
    }

    /// Prints a result: `value` as pretty JSON with `--json`, else the human text.
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            let mut text = serde_json::to_string_pretty(value)
                .map_err(|e| CliError::Failed(format!("cannot encode the result as JSON: {e}")))?;
            text.push('\n');
            self.print(&text)
        } else {
            let mut text = human();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            self.print(&text)
        }
    }
}

/// Makes text from outside (file names, server messages) safe for a terminal: control
/// characters (escape sequences, newlines) are shown escaped.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `1 file`, `2 files`.
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `1234567` → `1.23M`.
pub fn human_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.2}K", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}B", n as f64 / 1e9),
    }
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(n) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 == n {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_terminal_control() {
        assert_eq!(sanitize("plain/文件.txt"), "plain/文件.txt");
        assert_eq!(sanitize("a\x1b[31mred\nx"), "a\\u{1b}[31mred\\nx");
        assert_eq!(sanitize("文\t"), "文\\t");
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(1_234_567), "1.23M");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["xxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxxx  1\ny    22\n");
    }
}
