//! A sink on a thread of its own behind a bounded queue: `push` copies the frame and returns at
//! once; when the inner sink is behind and the queue is full, the frame is dropped and counted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use image::RgbImage;

use super::{Sink, SinkReport, QUEUE_LEN};
use crate::{Error, Result};

/// `inner` behind a queue of [`QUEUE_LEN`] frames on a thread of its own.
pub fn spawn(inner: Box<dyn Sink>) -> Result<Box<dyn Sink>> {
    Ok(Box::new(Queued::spawn(inner, QUEUE_LEN)?))
}

/// What the worker thread sends back besides recycled buffers.
enum Event {
    Note(String),
    Failed(String),
}

/// See the module documentation.
pub struct Queued {
    tx: Option<SyncSender<(RgbImage, Instant)>>,
    recycled: Receiver<RgbImage>,
    events: Receiver<Event>,
    failed: Arc<AtomicBool>,
    error: Option<String>,
    worker: Option<JoinHandle<Result<SinkReport>>>,
    dropped: u64,
}

impl Queued {
    /// Starts the thread that feeds `inner`; at most `capacity` frames wait for it.
    pub fn spawn(inner: Box<dyn Sink>, capacity: usize) -> Result<Queued> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let (recycle_tx, recycled) = mpsc::channel();
        let (event_tx, events) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let worker = std::thread::Builder::new()
            .name("stylecam-sink".into())
            .spawn(move || feed(inner, &rx, &recycle_tx, &event_tx, &flag))
            .map_err(|e| Error::Sink(format!("cannot start a sink thread: {e}")))?;
        Ok(Queued {
            tx: Some(tx),
            recycled,
            events,
            failed,
            error: None,
            worker: Some(worker),
            dropped: 0,
        })
    }

    fn drain_events(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            match e {
                Event::Note(n) => notes.push(n),
                Event::Failed(e) => self.error = Some(e),
            }
        }
        notes
    }

    fn stopped(&mut self) -> Error {
        self.tx = None;
        self.drain_events();
        Error::Sink(
            self.error
                .clone()
                .unwrap_or_else(|| "the sink thread ended".into()),
        )
    }
}

fn feed(
    mut inner: Box<dyn Sink>,
    rx: &Receiver<(RgbImage, Instant)>,
    recycle: &Sender<RgbImage>,
    events: &Sender<Event>,
    failed: &AtomicBool,
) -> Result<SinkReport> {
    while let Ok((frame, t)) = rx.recv() {
        let pushed = inner.push(&frame, t);
        for note in inner.notes() {
            let _ = events.send(Event::Note(note));
        }
        if let Err(e) = pushed {
            let _ = events.send(Event::Failed(e.to_string()));
            failed.store(true, Ordering::SeqCst);
            let _ = inner.finish();
            return Err(e);
        }
        let _ = recycle.send(frame);
    }
    inner.finish()
}

impl Sink for Queued {
    fn push(&mut self, frame: &RgbImage, t: Instant) -> Result<()> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(self.stopped());
        }
        let Some(tx) = &self.tx else {
            return Err(self.stopped());
        };
        let mut buf = match self.recycled.try_recv() {
            Ok(b) if b.dimensions() == frame.dimensions() => b,
            _ => RgbImage::new(frame.width(), frame.height()),
        };
        buf.copy_from_slice(frame);
        match tx.try_send((buf, t)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(self.stopped()),
        }
    }

    fn notes(&mut self) -> Vec<String> {
        self.drain_events()
    }

    fn finish(mut self: Box<Self>) -> Result<SinkReport> {
        self.tx = None;
        let worker = self.worker.take().expect("finish runs once");
        let mut report = worker
            .join()
            .map_err(|_| Error::Sink("a sink thread panicked".into()))??;
        report.dropped += self.dropped;
        Ok(report)
    }
}

impl Drop for Queued {
    /// A queued sink dropped without `finish` still lets its thread finish the output.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    /// A sink that takes `delay` per frame and counts what it got.
    struct Slow {
        delay: Duration,
        got: Arc<AtomicU64>,
        fail_at: Option<u64>,
    }

    impl Sink for Slow {
        fn push(&mut self, _: &RgbImage, _: Instant) -> Result<()> {
            std::thread::sleep(self.delay);
            let n = self.got.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail_at == Some(n) {
                return Err(Error::Sink("reader went away".into()));
            }
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<SinkReport> {
            Ok(SinkReport {
                what: "slow".into(),
                frames: self.got.load(Ordering::SeqCst),
                ..SinkReport::default()
            })
        }
    }

    fn slow(delay_ms: u64, fail_at: Option<u64>) -> (Queued, Arc<AtomicU64>) {
        let got = Arc::new(AtomicU64::new(0));
        let sink = Slow {
            delay: Duration::from_millis(delay_ms),
            got: got.clone(),
            fail_at,
        };
        (Queued::spawn(Box::new(sink), 2).unwrap(), got)
    }

    #[test]
    fn a_slow_sink_drops_frames_instead_of_blocking_the_caller() {
        let (mut q, _) = slow(200, None);
        let frame = RgbImage::new(8, 8);
        let t0 = Instant::now();
        for _ in 0..50 {
            q.push(&frame, Instant::now()).unwrap();
        }
        // 50 frames into a sink that takes 200 ms each: blocking would take 10 s.
        assert!(t0.elapsed() < Duration::from_secs(5), "push blocked");
        let report = Box::new(q).finish().unwrap();
        assert!(report.dropped >= 40, "{report:?}");
        assert_eq!(report.frames + report.dropped, 50, "{report:?}");
    }

    #[test]
    fn a_fast_sink_gets_every_frame() {
        let (q, got) = slow(0, None);
        let mut q: Box<dyn Sink> = Box::new(q);
        let frame = RgbImage::new(8, 8);
        for i in 1..=20 {
            q.push(&frame, Instant::now()).unwrap();
            // Waits until the worker has written it (a hang bound, not a timing assertion).
            let t = Instant::now();
            while got.load(Ordering::SeqCst) < i && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let report = q.finish().unwrap();
        assert_eq!((report.frames, report.dropped), (20, 0));
    }

    #[test]
    fn a_failing_sink_reports_its_error_on_the_next_push() {
        let (mut q, got) = slow(0, Some(1));
        let frame = RgbImage::new(8, 8);
        q.push(&frame, Instant::now()).unwrap();
        let t = Instant::now();
        while got.load(Ordering::SeqCst) == 0 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut err = None;
        while err.is_none() && t.elapsed() < Duration::from_secs(10) {
            err = q.push(&frame, Instant::now()).err();
        }
        assert!(err.unwrap().to_string().contains("reader went away"));
    }
}
