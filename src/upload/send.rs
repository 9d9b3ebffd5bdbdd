//! Sending what is due: each queued batch is claimed, posted, and its outcome applied to the
//! outbox (confirm, retry later with backoff, reject, or wait for a person).

use crate::credentials::{Account, Finder};
use crate::message::Localized;
use crate::upload::client::{Client, Credentials, Kind, Outcome};
use crate::upload::outbox::{BatchRecord, Outbox, OutboxError, now_ms};
use crate::upload::target::{Target, TargetError};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The first retry waits about this long; each further one twice as long.
const BACKOFF_BASE_MS: f64 = 1000.0;
/// No retry waits longer than this.
const BACKOFF_MAX_MS: f64 = 15.0 * 60.0 * 1000.0;

/// The wait before the next attempt after `attempts` failed ones: exponential, with jitter
/// (0.5x to 1.5x) so many clients do not all come back at the same moment.
pub fn backoff_ms(attempts: u32) -> i64 {
    let exp = BACKOFF_BASE_MS * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    (exp.min(BACKOFF_MAX_MS) * (0.5 + fastrand::f64())) as i64
}

/// How long to go on and which batches to send.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Keep retrying while the program runs, at most this long. Zero: one attempt each.
    pub max_wait: Duration,
    /// Only these batches (the ones of one file); `None`: every due batch.
    pub only: Option<HashSet<String>>,
    /// The user's target folder, where batches' targets are looked up (after the built-in
    /// ones).
    pub targets_dir: Option<std::path::PathBuf>,
}

/// What a sender does between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop waiting out the backoff: every queued batch is due now ("现在重试").
    Now,
    /// End this run (the credentials changed, the window closes).
    Stop,
}

/// Hears a send run: each attempt's outcome, and a turn between attempts and while waiting,
/// with the outbox, for other work of the program that owns it (the window's sender thread
/// applies a person's decisions there).
pub trait SendHooks {
    fn attempt(&mut self, _batch: &BatchRecord, _outcome: &Outcome) {}
    fn idle(&mut self, _outbox: &mut Outbox) -> Result<Flow, OutboxError> {
        Ok(Flow::Continue)
    }
}

impl<F: FnMut(&BatchRecord, &Outcome)> SendHooks for F {
    fn attempt(&mut self, batch: &BatchRecord, outcome: &Outcome) {
        self(batch, outcome)
    }
}

/// What a send run did.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    /// Attempts made.
    pub attempts: usize,
    /// A refused login, which stopped sending to that target.
    pub login_refused: Option<Outcome>,
    /// Targets that could not be loaded, with their batches left queued.
    pub broken_targets: Vec<TargetError>,
}

/// Sends every due batch (of `opts.only`, if given), retrying with backoff for up to
/// `opts.max_wait`. Each batch goes with the credentials of its own target, found by `keys`
/// (never those of the target a command was started with); a target without credentials keeps
/// its batches queued and is named in the outcome. `hooks` hears every attempt's outcome (for progress and logs) and gets a
/// turn between attempts. Batches another program is sending are left to it; a claim of a
/// program that has gone is taken over before each pass.
// Long: one pass per round (recover, claim, send, record the outcome); every way a batch leaves the loop is visible in one place.
pub fn send_due(
    outbox: &mut Outbox,
    keys: &Finder,
    opts: &SendOptions,
    hooks: &mut dyn SendHooks,
) -> Result<SendReport, OutboxError> {
    let deadline = Instant::now() + opts.max_wait;
    let wanted = |b: &BatchRecord| opts.only.as_ref().is_none_or(|o| o.contains(&b.id));
    let user_dir = opts.targets_dir.clone();
    let mut targets: HashMap<String, Target> = HashMap::new();
    // Each target's own credentials, found once per run.
    let mut creds: HashMap<String, Result<Credentials, Outcome>> = HashMap::new();
    let mut report = SendReport::default();
    for b in outbox.queued()?.iter().filter(|b| wanted(b)) {
        if targets.contains_key(&b.target) {
            continue;
        }
        match Target::find(&b.target, user_dir.as_deref()) {
            Ok(t) => {
                let found = keys
                    .find(&Account::Target(t.reference.clone()))
                    .map_err(|e| unreadable_credentials(&t, &e));
                creds.insert(b.target.clone(), found);
                targets.insert(b.target.clone(), t);
            }
            Err(e) if !report.broken_targets.contains(&e) => report.broken_targets.push(e),
            Err(_) => {}
        }
    }
    let mut clients: HashMap<&str, Client<'_>> = HashMap::new();
    // Targets not tried again in this run: login refused, or a client that cannot be built.
    let mut stopped: HashSet<String> = HashSet::new();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    'passes: loop {
        outbox.recover_dead_claims()?;
        // Targets found unreachable in this pass: their other batches wait for the next one.
        let mut unreachable: HashSet<String> = HashSet::new();
        for b in outbox.due(now_ms())? {
            if !wanted(&b) || stopped.contains(&b.target) || unreachable.contains(&b.target) {
                continue;
            }
            match hooks.idle(outbox)? {
                Flow::Stop => break 'passes,
                Flow::Continue | Flow::Now => {}
            }
            let Some((reference, target)) = targets.get_key_value(&b.target) else {
                continue;
            };
            let client = match clients.entry(reference.as_str()) {
                std::collections::hash_map::Entry::Occupied(c) => c.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => match Client::new(target) {
                    Ok(c) => v.insert(c),
                    Err(e) => {
                        outbox.requeue(&b.id, &e.to_string(), now_ms())?;
                        stopped.insert(b.target.clone());
                        continue;
                    }
                },
            };
            if !outbox.claim(&b.id)? {
                continue;
            }
            report.attempts += 1;
            let file = outbox.file_path(&b.id);
            let outcome = match creds.get(&b.target) {
                Some(Ok(c)) => client.send(c, &file, &b.id, b.rows, &today),
                Some(Err(o)) => o.clone(),
                None => client.send(&Credentials::default(), &file, &b.id, b.rows, &today),
            };
            let attempts = b.attempts + 1;
            match outcome.kind {
                Kind::Confirmed => outbox.confirm(&b.id, outcome.accepted)?,
                Kind::Rejected => outbox.reject(&b.id, &outcome.zh)?,
                Kind::Retry => retry_later(outbox, &b, target, &outcome.zh, attempts)?,
                Kind::Unreachable => {
                    retry_later(outbox, &b, target, &outcome.zh, attempts)?;
                    unreachable.insert(b.target.clone());
                }
                Kind::Lost if b.resend_safe => retry_later(
                    outbox,
                    &b,
                    target,
                    &format!("{}将用同一幂等键重新发送。", outcome.zh),
                    attempts,
                )?,
                Kind::Lost => outbox.wait(
                    &b.id,
                    &format!(
                        "{}这个省平台不能识别重复上报，为免重复，请先在省平台上核对这批数据是否已收到，再选择重发或放弃。",
                        outcome.zh
                    ),
                )?,
                Kind::LoginRefused => {
                    // Not the batch's fault: it stays queued, due at once after a new login.
                    outbox.requeue(&b.id, &outcome.zh, now_ms())?;
                    stopped.insert(b.target.clone());
                    report.login_refused.get_or_insert_with(|| outcome.clone());
                }
            }
            log_attempt(&b, &outcome);
            hooks.attempt(&b, &outcome);
        }
        let left: Vec<BatchRecord> = outbox
            .queued()?
            .into_iter()
            .filter(|b| {
                wanted(b) && targets.contains_key(&b.target) && !stopped.contains(&b.target)
            })
            .collect();
        let Some(next) = left.iter().map(|b| b.next_attempt_at).min() else {
            break;
        };
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wait = Duration::from_millis((next - now_ms()).max(0) as u64);
        if now + wait > deadline {
            break;
        }
        if wait_with_hooks(outbox, wait, hooks)? == Flow::Stop {
            break;
        }
    }
    Ok(report)
}

/// The remembered credentials of `target` could not be read: its batches stay queued.
fn unreadable_credentials(target: &Target, e: &crate::credentials::CredentialError) -> Outcome {
    let name = crate::paths::for_line(&target.name);
    Outcome {
        kind: Kind::LoginRefused,
        zh: format!("读不了上报目标「{name}」记住的登录信息，它的批次留在队列里：{e}"),
        en: format!(
            "the remembered credentials of {name} cannot be read; its batches stay queued: {}",
            e.english()
        ),
        accepted: None,
        detail: None,
    }
}

/// Waits `wait`, giving `hooks` a turn every 200 ms; ends early when it says so (`Now`: every
/// queued batch is made due now).
fn wait_with_hooks(
    outbox: &mut Outbox,
    wait: Duration,
    hooks: &mut dyn SendHooks,
) -> Result<Flow, OutboxError> {
    let end = Instant::now() + wait;
    loop {
        match hooks.idle(outbox)? {
            Flow::Continue => {}
            Flow::Now => {
                outbox.all_due_now()?;
                return Ok(Flow::Now);
            }
            Flow::Stop => return Ok(Flow::Stop),
        }
        let now = Instant::now();
        if now >= end {
            return Ok(Flow::Continue);
        }
        std::thread::sleep((end - now).min(Duration::from_millis(200)));
    }
}

/// Queues a failed batch again after a backoff, unless that would be past its target's
/// `retry_for_hours` (counted from queueing or a person's retry): then a person decides.
fn retry_later(
    outbox: &mut Outbox,
    b: &BatchRecord,
    target: &Target,
    error: &str,
    attempts: u32,
) -> Result<(), OutboxError> {
    let next = now_ms() + backoff_ms(attempts);
    let expires = b.retry_from + (target.retry_for_hours * 3_600_000.0) as i64;
    if next > expires {
        outbox.wait(
            &b.id,
            &format!(
                "{} 小时内重试 {attempts} 次仍未成功（最后一次：{error}）。请检查网络和省平台后选择重发或放弃。",
                target.retry_for_hours
            ),
        )
    } else {
        outbox.requeue(&b.id, error, next)
    }
}

/// One send attempt and the platform's answer.
fn log_attempt(batch: &BatchRecord, outcome: &Outcome) {
    let level = match outcome.kind {
        Kind::Confirmed => ::log::Level::Info,
        _ => ::log::Level::Warn,
    };
    ::log::log!(
        target: crate::log::event::TARGET,
        level,
        "send: batch {} to {} ({} rows), attempt {}: {:?}{}: {}{}",
        batch.id,
        batch.target,
        batch.rows,
        batch.attempts + 1,
        outcome.kind,
        outcome
            .accepted
            .map(|n| format!(", {n} accepted"))
            .unwrap_or_default(),
        outcome.zh,
        outcome
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        for _ in 0..50 {
            let first = backoff_ms(1);
            assert!((500..=1500).contains(&first), "{first}");
            let fourth = backoff_ms(4);
            assert!((4000..=12000).contains(&fourth), "{fourth}");
            assert!(backoff_ms(40) <= 15 * 60 * 1000 * 3 / 2);
        }
    }
}
