//! Tenant tasks that fail are restarted, not forgotten.
//!
//! A tenant task that panics (a bug, or an input nobody foresaw) is logged as an ERROR with the
//! tenant and the panic's message, counted, and started again after a backoff (1 s, doubling up
//! to 5 minutes) from its checkpoint: the window it was in is fetched again. The other tenants
//! never notice. A task that ends on its own has stopped for good (consent gone, checkpoint
//! refused) and says why; when every task has ended the supervisor returns, so that the process
//! exits and a service manager can restart it.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;

/// How a tenant task ended, when it did not panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEnd {
    /// Shutdown was asked for.
    Shutdown,
    /// The tenant cannot go on without an operator (the message says what to do).
    Stopped(String),
}

/// What the supervised tasks did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Supervised {
    /// Tenants that stopped for good, by name, with why.
    pub stopped: Vec<(String, String)>,
    /// Panics of tenant tasks (each was restarted unless shutdown came first).
    pub panics: u64,
}

/// First wait before a panicked task is started again; it doubles per panic in a row.
const RESTART_BACKOFF_MIN: Duration = Duration::from_secs(1);
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A task that ran this long before it panicked starts its backoff afresh.
const HEALTHY_RUN: Duration = Duration::from_secs(600);

struct Slot {
    /// Panics in a row.
    panics: u32,
    started: Instant,
}

/// Runs `start(i)` for every tenant `names[i]` until each has ended or shutdown came, and
/// restarts the ones that panic; `on_panic(i, message)` is told of each panic first.
pub async fn supervise<F, Fut>(
    names: Vec<String>,
    start: F,
    on_panic: impl Fn(usize, &str),
    mut shutdown: watch::Receiver<bool>,
) -> Supervised
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = TaskEnd> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    let mut running: HashMap<Id, usize> = HashMap::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        let handle = tasks.spawn(start(i));
        running.insert(handle.id(), i);
        slots.push(Slot {
            panics: 0,
            started: Instant::now(),
        });
    }
    let mut outcome = Supervised::default();
    while let Some(joined) = tasks.join_next_with_id().await {
        let (id, end) = match joined {
            Ok((id, end)) => (id, Ok(end)),
            Err(e) => (e.id(), Err(e)),
        };
        let Some(i) = running.remove(&id) else {
            continue;
        };
        let name = &names[i];
        let e = match end {
            Ok(TaskEnd::Shutdown) => continue,
            Ok(TaskEnd::Stopped(why)) => {
                outcome.stopped.push((name.clone(), why));
                continue;
            }
            Err(e) => e,
        };
        if !e.is_panic() {
            // Cancelled: only the runtime shutting down does that.
            continue;
        }
        outcome.panics += 1;
        let message = panic_message(e.into_panic());
        on_panic(i, &message);
        let slot = &mut slots[i];
        if slot.started.elapsed() >= HEALTHY_RUN {
            slot.panics = 0;
        }
        slot.panics += 1;
        let wait = RESTART_BACKOFF_MIN
            .saturating_mul(1 << (slot.panics - 1).min(16))
            .min(RESTART_BACKOFF_MAX);
        if *shutdown.borrow() {
            tracing::error!(tenant = %name, "the tenant's task failed (panic: {message}) while stopping; its window is fetched again at the next start");
            continue;
        }
        tracing::error!(tenant = %name, failures_in_a_row = slot.panics, "the tenant's task failed (panic: {message}); it starts again from its checkpoint in {}s", wait.as_secs());
        slot.started = Instant::now() + wait;
        let task = start(i);
        let mut stop = shutdown.clone();
        let handle = tasks.spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|stopping| *stopping) => return TaskEnd::Shutdown,
            }
            task.await
        });
        running.insert(handle.id(), i);
    }
    // Only to keep the receiver alive as long as the tasks: they hold clones.
    let _ = shutdown.borrow_and_update();
    outcome
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "(no message)".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Regression: a panicked tenant task was only logged; the tenant stayed dead while the
    /// process ran on, and exited 0.
    #[tokio::test(start_paused = true)]
    async fn a_panicking_tenant_is_restarted_with_backoff_and_the_others_go_on() {
        let names = vec![
            "poisoned".to_owned(),
            "healthy".to_owned(),
            "gone".to_owned(),
        ];
        let (stop, stopping) = watch::channel(false);
        let starts = Arc::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]);
        let started_at = Arc::new(std::sync::Mutex::new(Vec::new()));
        let begin = Instant::now();
        let (s, at, rx) = (starts.clone(), started_at.clone(), stopping.clone());
        let told = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tell = told.clone();
        let supervisor = tokio::spawn(async move {
            supervise(
                names,
                move |i| {
                    let n = s[i].fetch_add(1, Ordering::SeqCst);
                    let at = at.clone();
                    let mut rx = rx.clone();
                    async move {
                        match i {
                            0 => {
                                at.lock().unwrap().push(begin.elapsed());
                                if n < 3 {
                                    panic!("poisoned page {n}");
                                }
                                let _ = rx.wait_for(|s| *s).await;
                                TaskEnd::Shutdown
                            }
                            1 => {
                                let _ = rx.wait_for(|s| *s).await;
                                TaskEnd::Shutdown
                            }
                            _ => TaskEnd::Stopped("re-consent needed".into()),
                        }
                    }
                },
                move |i, message: &str| tell.lock().unwrap().push((i, message.to_owned())),
                stopping,
            )
            .await
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            starts[0].load(Ordering::SeqCst),
            4,
            "started again after each panic"
        );
        assert_eq!(
            starts[1].load(Ordering::SeqCst),
            1,
            "the others are not touched"
        );
        // Panics at 0 s, then restarts after 1 s, 2 s and 4 s.
        let at: Vec<u64> = started_at
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(at, [0, 1, 3, 7]);
        stop.send(true).unwrap();
        let outcome = supervisor.await.unwrap();
        assert_eq!(outcome.panics, 3);
        let told: Vec<String> = told
            .lock()
            .unwrap()
            .iter()
            .map(|(i, m)| format!("{i} {m}"))
            .collect();
        assert_eq!(
            told,
            [
                "0 poisoned page 0",
                "0 poisoned page 1",
                "0 poisoned page 2"
            ]
        );
        assert_eq!(
            outcome.stopped,
            [("gone".to_owned(), "re-consent needed".to_owned())]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_waiting_for_its_backoff_ends_at_shutdown() {
        let names = vec!["poisoned".to_owned()];
        let (stop, stopping) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(
            names,
            |_| async { panic!("always") },
            |_, _| {},
            stopping,
        ));
        tokio::time::sleep(Duration::from_secs(30)).await;
        stop.send(true).unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(1), supervisor)
            .await
            .expect("returns at once")
            .unwrap();
        assert!(outcome.panics >= 4, "{outcome:?}");
        assert!(outcome.stopped.is_empty());
    }
}
