//! A one-place mailbox that always holds the newest value: a producer never waits (it overwrites
//! whatever the consumer has not taken yet, counting it as dropped), and the consumer always gets
//! the freshest value.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

struct State<T> {
    value: Option<T>,
    put: u64,
    dropped: u64,
    closed: bool,
}

/// Newest-value slot shared between one producer thread and one consumer thread.
pub struct NewestSlot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Default for NewestSlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> NewestSlot<T> {
    pub fn new() -> Self {
        NewestSlot {
            state: Mutex::new(State {
                value: None,
                put: 0,
                dropped: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panicking thread cannot leave the state inconsistent (every update is one assignment).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `value`, replacing (and counting as dropped) a value nobody took. Returns whether
    /// one was dropped. Never blocks on the consumer.
    pub fn put(&self, value: T) -> bool {
        let mut s = self.lock();
        let dropped = s.value.replace(value).is_some();
        s.put += 1;
        if dropped {
            s.dropped += 1;
        }
        drop(s);
        self.ready.notify_all();
        dropped
    }

    /// Takes the value if there is one, without waiting.
    pub fn take(&self) -> Option<T> {
        self.lock().value.take()
    }

    /// Takes the value, waiting up to `timeout` for one. `None` on timeout or once closed.
    pub fn take_timeout(&self, timeout: Duration) -> Option<T> {
        let guard = self.lock();
        let (mut guard, _) = self
            .ready
            .wait_timeout_while(guard, timeout, |s| s.value.is_none() && !s.closed)
            .unwrap_or_else(|p| p.into_inner());
        guard.value.take()
    }

    /// Waits up to `timeout` until a value is available (without taking it); true if one is.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let guard = self.lock();
        let (guard, _) = self
            .ready
            .wait_timeout_while(guard, timeout, |s| s.value.is_none() && !s.closed)
            .unwrap_or_else(|p| p.into_inner());
        guard.value.is_some()
    }

    /// Wakes every waiter for good: waits return at once from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Values overwritten before anyone took them.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Values ever stored.
    pub fn put_count(&self) -> u64 {
        self.lock().put
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn consumer_gets_the_newest_and_stale_values_are_counted() {
        let slot = NewestSlot::new();
        assert!(!slot.put(1));
        assert!(slot.put(2));
        assert!(slot.put(3));
        assert_eq!(slot.take(), Some(3));
        assert_eq!(slot.take(), None);
        assert!(!slot.put(4));
        assert_eq!(slot.take(), Some(4));
        assert_eq!((slot.dropped(), slot.put_count()), (2, 4));
    }

    #[test]
    fn slow_consumer_never_slows_the_producer() {
        // A producer puts 1000 values while the consumer, after its first take, is parked until
        // the producer is done: the producer finishes without waiting for it, the consumer sees
        // increasing values ending with the last one, and taken + dropped accounts for every
        // value. No timing is involved (the timeouts only bound a hang).
        let slot = Arc::new(NewestSlot::new());
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let consumer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while let Some(v) = slot.take_timeout(Duration::from_secs(60)) {
                    seen.push(v);
                    if v == 999 {
                        break;
                    }
                    if seen.len() == 1 {
                        done_rx
                            .recv_timeout(Duration::from_secs(60))
                            .expect("the producer finished");
                    }
                }
                seen
            })
        };
        for v in 0..1000u32 {
            slot.put(v);
        }
        // (The consumer may already be gone: its first take could be the last value.)
        let _ = done_tx.send(());
        let seen = consumer.join().unwrap();
        assert_eq!(seen.last(), Some(&999));
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "values arrive newest-first, never older"
        );
        assert!(seen.len() < 1000, "a slow consumer skipped stale values");
        assert_eq!(seen.len() as u64 + slot.dropped(), 1000);
    }

    #[test]
    fn close_wakes_a_waiting_consumer() {
        let slot: Arc<NewestSlot<u8>> = Arc::new(NewestSlot::new());
        let waiter = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                (slot.take_timeout(Duration::from_secs(30)), t.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        slot.close();
        let (v, waited) = waiter.join().unwrap();
        assert_eq!(v, None);
        assert!(waited < Duration::from_secs(10));
    }
}
