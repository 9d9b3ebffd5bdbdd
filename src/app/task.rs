//! The window's one way to start work off the UI thread (the UI thread never reads a file or
//! touches the network). A [`Task`] runs a closure on a named worker thread, hands its one
//! result back over a channel and asks for a repaint; the window polls it each frame
//! ([`Task::poll`]). The workers that live as long as the window and talk over channels of
//! their own (the sender thread, the watcher's ticker) start through [`worker`]. Either way a
//! thread the system refuses is logged, and a task whose thread ended without an answer says
//! so ([`Poll::Died`]) rather than leaving the window waiting.

use eframe::egui;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// A piece of work running on a worker thread, with its one result to come.
pub struct Task<T> {
    rx: Receiver<T>,
}

/// The state of a task.
pub enum Poll<T> {
    Running,
    Done(T),
    /// The thread ended without an answer (it panicked, or could not be started).
    Died,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `work` on a worker thread named `name`; its result is kept for [`Task::poll`] and
    /// the window repainted.
    pub fn spawn(
        name: &str,
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Task<T> {
        let (tx, rx) = channel();
        let ctx = ctx.clone();
        worker(name, move || {
            // The window may have gone by then: nothing to do if so.
            let _ = tx.send(work());
            ctx.request_repaint();
        });
        Task { rx }
    }
}

impl<T> Task<T> {
    /// The result, once the work is done (given once).
    pub fn poll(&self) -> Poll<T> {
        match self.rx.try_recv() {
            Ok(done) => Poll::Done(done),
            Err(TryRecvError::Empty) => Poll::Running,
            Err(TryRecvError::Disconnected) => Poll::Died,
        }
    }
}

/// Starts a worker of the window named `name`. A thread the system refuses is logged; `work`
/// is then dropped (a task's channel closes, so it is [`Poll::Died`]).
pub fn worker(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(work)
    {
        sheetbridge::log::event::error(&format!("cannot start the {name} thread: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait<T>(task: &Task<T>) -> Poll<T> {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match task.poll() {
                Poll::Running if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                other => return other,
            }
        }
    }

    #[test]
    fn a_task_gives_its_result_once_and_a_dead_one_says_so() {
        let ctx = egui::Context::default();
        let task = Task::spawn("test", &ctx, || 41 + 1);
        assert!(matches!(wait(&task), Poll::Done(42)));
        // Given once: the thread has gone with its sender.
        assert!(matches!(task.poll(), Poll::Died));
        let died: Task<u8> = Task::spawn("test", &ctx, || panic!("a bug"));
        assert!(matches!(wait(&died), Poll::Died));
    }

    /// Every `.rs` file under `dir`.
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn every_worker_of_the_window_starts_here() {
        let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
        let mut files = Vec::new();
        sources(&app, &mut files);
        assert!(files.len() > 10, "read no source of the window: {files:?}");
        let mut found = Vec::new();
        for path in files.iter().filter(|p| !p.ends_with("task.rs")) {
            let text = std::fs::read_to_string(path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if ["thread::spawn", "thread::Builder", "thread::scope"]
                    .iter()
                    .any(|s| line.contains(s))
                {
                    found.push(format!("{path:?}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "start the window's workers through app::task (Task::spawn or worker):\n{}",
            found.join("\n")
        );
    }
}
