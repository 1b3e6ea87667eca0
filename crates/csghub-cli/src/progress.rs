//! Progress of transfers: csghub-transfer reports events through its [`Reporter`] trait; this
//! module draws them with indicatif (an overall bytes bar plus one bar per file in flight) on
//! a terminal, and logs them otherwise (`--quiet`, `--json`, stderr piped: no bars).
//!
//! Use: `let reporter = progress::reporter(&ctx.out);` and hand `reporter.clone()` to the
//! transfer; call `reporter.finish()` when it returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csghub_transfer::{FileOutcome, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::{Output, human_size, sanitize};

/// A reporter the CLI hands to csghub-transfer.
pub trait CliReporter: Reporter {
    /// Clears the bars (call once the transfer has returned).
    fn finish(&self);
}

/// Bars on a terminal, logs otherwise.
pub fn reporter(out: &Output) -> Arc<dyn CliReporter> {
    if out.progress_enabled() {
        Arc::new(Bars::new())
    } else {
        Arc::new(Logs { out: out.clone() })
    }
}

/// No colours in the templates, so `NO_COLOR` needs no special case.
const OVERALL_TEMPLATE: &str =
    "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}";
const FILE_TEMPLATE: &str = "{msg:>40!} [{bar:30}] {bytes}/{total_bytes}";

/// indicatif bars.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    files: Mutex<HashMap<String, ProgressBar>>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Bars {
    fn new() -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let overall = multi.add(ProgressBar::new(0));
        overall.set_style(style(OVERALL_TEMPLATE));
        overall.set_message("total");
        Bars {
            multi,
            overall,
            files: Mutex::new(HashMap::new()),
        }
    }

    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        // A panic while holding the lock only loses bar bookkeeping.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shortens `path` from the left so the file name stays visible.
fn short(path: &str, max: usize) -> String {
    let clean = sanitize(path);
    let n = clean.chars().count();
    if n <= max {
        return clean.into_owned();
    }
    let tail: String = clean.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

impl Reporter for Bars {
    fn on_plan(&self, files: usize, bytes: u64) {
        self.overall.set_length(bytes);
        self.overall.set_message(format!("{files} files"));
    }

    fn on_file_start(&self, path: &str, size: u64, resumed_from: u64) {
        let bar = self.multi.insert_from_back(0, ProgressBar::new(size));
        bar.set_style(style(FILE_TEMPLATE));
        bar.set_message(short(path, 40));
        bar.set_position(resumed_from);
        self.files().insert(path.to_owned(), bar);
    }

    fn on_file_progress(&self, path: &str, bytes: u64) {
        if let Some(bar) = self.files().get(path) {
            bar.inc(bytes);
        }
        self.overall.inc(bytes);
    }

    fn on_file_done(&self, path: &str, _outcome: FileOutcome) {
        if let Some(bar) = self.files().remove(path) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    fn on_retry(&self, what: &str, attempt: u32, delay: Duration, error: &str) {
        let _ = self.multi.println(format!(
            "warning: retrying {} in {:.1} s (attempt {attempt}): {}",
            sanitize(what),
            delay.as_secs_f64(),
            sanitize(error)
        ));
    }
}

impl CliReporter for Bars {
    fn finish(&self) {
        for (_, bar) in self.files().drain() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// Without a terminal: retries as warnings, files at debug level.
struct Logs {
    out: Output,
}

impl Reporter for Logs {
    fn on_plan(&self, files: usize, bytes: u64) {
        self.out.debug(format_args!(
            "{files} files, {} to transfer",
            human_size(bytes)
        ));
    }

    fn on_file_done(&self, path: &str, outcome: FileOutcome) {
        let how = match outcome {
            FileOutcome::Transferred => "transferred",
            FileOutcome::Cached => "up to date",
        };
        self.out.debug(format_args!("{}: {how}", sanitize(path)));
    }

    fn on_retry(&self, what: &str, attempt: u32, delay: Duration, error: &str) {
        self.out.warn(format_args!(
            "retrying {} in {:.1} s (attempt {attempt}): {}",
            sanitize(what),
            delay.as_secs_f64(),
            sanitize(error)
        ));
    }
}

impl CliReporter for Logs {
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_keep_their_file_name() {
        assert_eq!(short("a/b.txt", 40), "a/b.txt");
        let s = short(&format!("{}/model.safetensors", "d".repeat(60)), 20);
        assert_eq!(s.chars().count(), 20);
        assert!(s.ends_with("model.safetensors"));
        assert_eq!(short("x\x1b[2J", 40), "x\\u{1b}[2J");
    }

    #[test]
    fn bars_survive_unknown_paths_and_any_order() {
        let bars = Bars::new();
        bars.multi.set_draw_target(ProgressDrawTarget::hidden());
        bars.on_plan(2, 10);
        bars.on_file_progress("never-started", 3);
        bars.on_file_start("a", 5, 1);
        bars.on_file_progress("a", 4);
        bars.on_file_done("a", FileOutcome::Transferred);
        bars.on_file_done("a", FileOutcome::Transferred);
        assert_eq!(bars.overall.position(), 7);
        assert!(bars.files().is_empty());
        bars.finish();
    }
}
