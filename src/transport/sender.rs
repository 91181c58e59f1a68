//! The task that owns an output's connection: it takes batches from a bounded queue, writes
//! each whole, reconnects with backoff when the link fails, and answers every batch with
//! delivered or not.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::batch::Batch;
use super::config::ConnectionSettings;
use super::link::{Connector, Link, humantime};

/// A batch with the channel its outcome goes back on.
pub(crate) struct Job {
    pub batch: Batch,
    pub reply: oneshot::Sender<Result<Batch, (Batch, String)>>,
}

/// Exponential backoff with jitter: each wait is drawn from [d/2, d] where d doubles from
/// `min` up to `max`, so that many forwarders do not reconnect in step.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    rng: u64,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Backoff {
            min,
            max,
            next: min,
            rng: seed | 1,
        }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(self.max);
        // xorshift64: jitter needs spread, not secrecy.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        ceiling.mul_f64(0.5 + fraction / 2.0)
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

pub(crate) struct Sender {
    pub name: String,
    pub connector: Connector,
    pub settings: ConnectionSettings,
}

impl Sender {
    pub async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut link: Option<Link> = None;
        let mut backoff = Backoff::new(self.settings.backoff_min, self.settings.backoff_max);
        while let Some(job) = jobs.recv().await {
            let outcome = self.deliver(&job.batch, &mut link, &mut backoff).await;
            let _ = job.reply.send(match outcome {
                Ok(()) => Ok(job.batch),
                Err(why) => Err((job.batch, why)),
            });
        }
        if let Some(link) = link
            && let Err(e) = link.close().await
        {
            tracing::debug!(output = %self.name, "closing the connection: {e}");
        }
    }

    /// Writes `batch` whole, over a new connection if the old one failed, until it is written
    /// or its delivery time is up.
    async fn deliver(
        &self,
        batch: &Batch,
        link: &mut Option<Link>,
        backoff: &mut Backoff,
    ) -> Result<(), String> {
        let target = self.connector.destination().describe();
        let deadline = Instant::now() + self.settings.delivery_timeout;
        loop {
            if link.as_mut().is_some_and(Link::peer_closed) {
                tracing::info!(output = %self.name, "{target} closed the connection; reconnecting");
                *link = None;
            }
            let fresh = link.is_none();
            if fresh {
                match self.connector.connect(self.settings.connect_timeout).await {
                    Ok(l) => {
                        tracing::info!(output = %self.name, "connected to {target}");
                        *link = Some(l);
                    }
                    Err(e) => {
                        self.wait_or_give_up(backoff, deadline, &e.0).await?;
                        continue;
                    }
                }
            }
            let l = link.as_mut().expect("connected above");
            let written =
                tokio::time::timeout(self.settings.write_timeout, l.write_batch(batch)).await;
            let why = match written {
                Ok(Ok(())) => {
                    backoff.reset();
                    return Ok(());
                }
                Ok(Err(e)) => format!("writing to {target} failed: {e}"),
                Err(_) => format!(
                    "writing to {target} timed out after {}",
                    humantime(self.settings.write_timeout)
                ),
            };
            *link = None;
            if fresh {
                // A new connection that cannot take a write: back off as for a refused one.
                self.wait_or_give_up(backoff, deadline, &why).await?;
            } else {
                tracing::warn!(output = %self.name, "{why}; reconnecting");
            }
        }
    }

    async fn wait_or_give_up(
        &self,
        backoff: &mut Backoff,
        deadline: Instant,
        why: &str,
    ) -> Result<(), String> {
        let wait = backoff.next_wait();
        if Instant::now() + wait > deadline {
            tracing::warn!(
                output = %self.name,
                "{why}; giving up on this batch after {}",
                humantime(self.settings.delivery_timeout)
            );
            return Err(why.to_owned());
        }
        tracing::warn!(output = %self.name, "{why}, retrying in {}", humantime(wait));
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_resets() {
        let min = Duration::from_millis(500);
        let max = Duration::from_secs(4);
        let mut b = Backoff::new(min, max);
        let ceilings = [500u64, 1000, 2000, 4000, 4000, 4000];
        for ceiling in ceilings {
            let w = b.next_wait();
            let c = Duration::from_millis(ceiling);
            assert!(w <= c && w >= c / 2, "{w:?} not in [{:?}, {c:?}]", c / 2);
        }
        b.reset();
        assert!(b.next_wait() <= min);
    }

    #[test]
    fn backoff_jitter_spreads_waits() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
            seen.insert(b.next_wait().as_micros());
        }
        assert!(
            seen.len() > 10,
            "jitter gave {} distinct waits of 20",
            seen.len()
        );
    }
}
