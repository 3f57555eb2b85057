//! Rates and latencies for the overlay and the end-of-run summary.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Events per second over the last couple of seconds.
#[derive(Debug, Default)]
pub struct RateMeter {
    times: VecDeque<Instant>,
    total: u64,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(2);

    pub fn tick(&mut self, now: Instant) {
        self.total += 1;
        self.times.push_back(now);
        while self
            .times
            .front()
            .is_some_and(|&t| now.duration_since(t) > Self::WINDOW)
        {
            self.times.pop_front();
        }
    }

    /// Rate over the window, 0 with fewer than two events.
    pub fn rate(&self, now: Instant) -> f64 {
        let recent: Vec<&Instant> = self
            .times
            .iter()
            .filter(|&&t| now.duration_since(t) <= Self::WINDOW)
            .collect();
        match (recent.first(), recent.last()) {
            (Some(&&a), Some(&&b)) if recent.len() >= 2 && b > a => {
                (recent.len() - 1) as f64 / (b - a).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Median and 95th percentile of `values` (sorted copy), or zeros when empty.
pub fn median_p95(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_counts_events_per_second() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        for i in 0..11 {
            m.tick(t0 + Duration::from_millis(100 * i));
        }
        let r = m.rate(t0 + Duration::from_millis(1000));
        assert!((r - 10.0).abs() < 1e-6, "{r}");
        assert_eq!(m.total(), 11);
        assert_eq!(
            m.rate(t0 + Duration::from_secs(10)),
            0.0,
            "stale events expire"
        );
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let (m, p) = median_p95(&v);
        assert!(
            (m - 50.0).abs() <= 1.0 && (p - 95.0).abs() <= 1.0,
            "{m} {p}"
        );
    }
}
