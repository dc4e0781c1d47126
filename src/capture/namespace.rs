//! A capture in another network namespace.
//!
//! A packet socket belongs for good to the network namespace of the thread that created it
//! (`packet_create`, net/packet/af_packet.c, takes `sock_net` from the creating task), and it
//! names and binds that namespace's interfaces only. So a capture of another namespace is
//! opened by a thread that entered it with `setns(CLONE_NEWNET)`, the way pgstate reaches
//! another namespace's pktgen ([`crate::procfs::netns`]): the process itself never changes
//! namespace. [`Capture::open_in`] has a short-lived thread open the capture and hands it
//! back (the socket keeps its namespace whichever thread reads it); [`CaptureThread`] keeps
//! the thread, which reads the ring and runs the callback, until it is stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};

use super::{Capture, CaptureError, CaptureOptions, CaptureStats, Packet};
use crate::procfs::netns::{enter_this_thread, NetnsPath};

impl Capture {
    /// Opens a capture on `interface` of the network namespace `netns` (`None`: the calling
    /// thread's). A thread that entered the namespace opens it; the capture can then be read
    /// from any thread.
    pub fn open_in(
        netns: Option<&NetnsPath>,
        interface: &str,
        options: &CaptureOptions,
    ) -> Result<Capture, CaptureError> {
        let Some(netns) = netns else {
            return Capture::open(interface, options);
        };
        let (netns, name, options) = (netns.clone(), interface.to_owned(), options.clone());
        let opener = thread::Builder::new()
            .name(format!("capture {interface} open"))
            .spawn(move || {
                enter(&name, &netns)?;
                Capture::open(&name, &options)
            })
            .map_err(|error| thread_error(interface, format!("could not start: {error}")))?;
        opener
            .join()
            .map_err(|_| thread_error(interface, "panicked while opening".into()))?
    }
}

/// A capture running on its own thread, inside a network namespace or not: the thread opens
/// the capture, hands every packet to the callback and ends when stopped. Dropping it stops
/// it too (and waits for the thread).
#[derive(Debug)]
pub struct CaptureThread {
    interface: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<CaptureStats, CaptureError>>>,
}

impl CaptureThread {
    /// Starts a thread that enters `netns` (`None`: stays in the caller's), opens a capture on
    /// `interface` and runs `on_packet` on every packet. Returns once the capture is open, so
    /// every matching packet that arrives after this returns is seen; an error when it could
    /// not be opened.
    pub fn spawn<F>(
        netns: Option<&NetnsPath>,
        interface: &str,
        options: CaptureOptions,
        on_packet: F,
    ) -> Result<CaptureThread, CaptureError>
    where
        F: FnMut(Packet<'_>) + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened_rx) = mpsc::channel::<()>();
        let (netns, name, stop_flag) = (netns.cloned(), interface.to_owned(), stop.clone());
        let thread = thread::Builder::new()
            .name(format!("capture {interface}"))
            .spawn(move || {
                if let Some(netns) = &netns {
                    enter(&name, netns)?;
                }
                let mut capture = Capture::open(&name, &options)?;
                // The receiver is gone only if spawn itself is gone; nothing to tell then.
                let _ = opened_tx.send(());
                capture.run(&stop_flag, on_packet)?;
                capture.statistics()
            })
            .map_err(|error| thread_error(interface, format!("could not start: {error}")))?;
        if opened_rx.recv().is_ok() {
            return Ok(CaptureThread {
                interface: interface.to_owned(),
                stop,
                thread: Some(thread),
            });
        }
        // The thread ended before the capture was open: its error says why.
        match thread.join() {
            Ok(Err(error)) => Err(error),
            Ok(Ok(_)) => Err(thread_error(interface, "ended before opening".into())),
            Err(_) => Err(thread_error(interface, "panicked while opening".into())),
        }
    }

    /// The interface.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Whether the thread has ended by itself (an error: the interface went away, say);
    /// [`stop`](Self::stop) tells the error.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the capture: the packets that arrived before are still handed to the callback
    /// (see [`Capture::run`]); then its statistics, or the error that ended it.
    pub fn stop(mut self) -> Result<CaptureStats, CaptureError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<CaptureStats, CaptureError> {
        self.stop.store(true, Ordering::Release);
        let Some(thread) = self.thread.take() else {
            return Err(thread_error(&self.interface, "was already stopped".into()));
        };
        thread
            .join()
            .map_err(|_| thread_error(&self.interface, "panicked".into()))?
    }
}

impl Drop for CaptureThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.finish();
        }
    }
}

fn thread_error(interface: &str, what: String) -> CaptureError {
    CaptureError::Thread {
        interface: interface.to_owned(),
        what,
    }
}

/// Moves the calling thread into `netns`.
fn enter(interface: &str, netns: &NetnsPath) -> Result<(), CaptureError> {
    enter_this_thread(netns).map_err(|source| CaptureError::Netns {
        interface: interface.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::netns::NetnsError;

    #[test]
    fn a_missing_namespace_is_told_before_any_socket_is_made() {
        let missing = NetnsPath::named("pgstate-capture-no-such-netns");
        let err = Capture::open_in(Some(&missing), "lo", &CaptureOptions::default()).unwrap_err();
        assert!(
            matches!(
                err,
                CaptureError::Netns {
                    source: NetnsError::Missing { .. },
                    ..
                }
            ),
            "{err}"
        );
        let err = CaptureThread::spawn(Some(&missing), "lo", CaptureOptions::default(), |_| {})
            .unwrap_err();
        assert_eq!(err.interface(), "lo");
    }

    #[test]
    fn a_thread_in_the_own_namespace_opens_runs_and_stops() {
        // Entering the namespace we are in changes nothing for the process.
        let own = NetnsPath::file("/proc/self/ns/net");
        let small = CaptureOptions {
            block_size: 4096,
            block_count: 2,
            ..CaptureOptions::default()
        };
        let capture = CaptureThread::spawn(Some(&own), "lo", small, |_| {}).unwrap();
        assert_eq!(capture.interface(), "lo");
        assert!(!capture.is_finished());
        let stats = capture.stop().unwrap();
        assert_eq!(stats.drops, 0);
    }
}
