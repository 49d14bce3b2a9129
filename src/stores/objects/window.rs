//! How many requests of one kind may be in flight at once: a limit that widens while the
//! server keeps up and halves when it throttles.
//!
//! Reading metadata and tags takes one request per object, so their number in flight
//! decides how fast a metadata-dated prefix is judged. A fixed number is either too few
//! for a distant server (each request waits out a round trip) or too many for a busy one.
//! The window starts in between, grows by one request per window's worth of successes
//! (about one per round trip) up to a ceiling, and halves at every new throttling answer
//! the store's [`Pace`] has seen — additive increase, multiplicative decrease, as TCP does.

use super::pace::Pace;
use std::future::Future;
use std::sync::Mutex;
use tokio::sync::Notify;

/// An adaptive limit on requests in flight.
#[derive(Debug)]
pub struct Window {
    state: Mutex<State>,
    freed: Notify,
    ceiling: usize,
}

#[derive(Debug)]
struct State {
    /// The current limit; fractional so that growth can be one per window of successes.
    limit: f64,
    in_flight: usize,
    /// The store's throttling count when the window last shrank.
    throttles_seen: u64,
}

impl Window {
    /// A window of `start` requests that never grows past `ceiling`.
    pub fn new(start: usize, ceiling: usize) -> Window {
        Window {
            state: Mutex::new(State {
                limit: start.clamp(1, ceiling.max(1)) as f64,
                in_flight: 0,
                throttles_seen: 0,
            }),
            freed: Notify::new(),
            ceiling: ceiling.max(1),
        }
    }

    /// Runs `request` once the window has room, then adjusts the window by what `pace`
    /// saw meanwhile: a new throttling answer halves it, else it widens a little.
    pub async fn run<T>(&self, pace: &Pace, request: impl Future<Output = T>) -> T {
        let slot = self.acquire().await;
        let out = request.await;
        slot.release(pace.throttles());
        out
    }

    async fn acquire(&self) -> Slot<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a slot freed in between still wakes us.
            freed.as_mut().enable();
            {
                let mut state = self.lock();
                if (state.in_flight as f64) < state.limit.floor() {
                    state.in_flight += 1;
                    return Slot {
                        window: self,
                        released: false,
                    };
                }
            }
            freed.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves only counters behind: keep using them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current limit, rounded down.
    #[cfg(test)]
    fn limit(&self) -> usize {
        self.lock().limit.floor() as usize
    }
}

/// One request's place in the window; given back when dropped (a cancelled request
/// changes nothing but the count in flight).
struct Slot<'a> {
    window: &'a Window,
    released: bool,
}

impl Slot<'_> {
    fn release(mut self, throttles: u64) {
        self.released = true;
        let window = self.window;
        let mut state = window.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if throttles > state.throttles_seen {
            state.throttles_seen = throttles;
            state.limit = (state.limit / 2.0).max(1.0);
        } else {
            state.limit = (state.limit + 1.0 / state.limit).min(window.ceiling as f64);
        }
        drop(state);
        window.freed.notify_waiters();
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if !self.released {
            let mut state = self.window.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            drop(state);
            self.window.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn successes_widen_the_window_up_to_its_ceiling() {
        let window = Window::new(2, 4);
        let pace = Pace::default();
        for _ in 0..100 {
            window.run(&pace, async {}).await;
        }
        assert_eq!(window.limit(), 4);
    }

    #[tokio::test]
    async fn each_new_throttling_answer_halves_the_window_once() {
        let window = Window::new(16, 64);
        let pace = Pace::default();
        pace.throttled();
        // Two requests finish after the same throttling answer: one halving, not two.
        window.run(&pace, async {}).await;
        window.run(&pace, async {}).await;
        assert_eq!(window.limit(), 8);
        pace.throttled();
        window.run(&pace, async {}).await;
        assert_eq!(window.limit(), 4);
        for _ in 0..10 {
            pace.throttled();
            window.run(&pace, async {}).await;
        }
        assert_eq!(window.limit(), 1, "never below one request");
    }

    #[tokio::test]
    async fn no_more_requests_are_in_flight_than_the_window_allows() {
        let window = Arc::new(Window::new(3, 3));
        let pace = Arc::new(Pace::default());
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (window, pace, now, most) = (
                    Arc::clone(&window),
                    Arc::clone(&pace),
                    Arc::clone(&now),
                    Arc::clone(&most),
                );
                tokio::spawn(async move {
                    window
                        .run(&pace, async {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }
}
