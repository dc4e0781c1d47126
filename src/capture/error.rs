//! Why a capture could not be opened or stopped receiving.

use std::io;

use super::filter::FilterError;
use crate::procfs::netns::NetnsError;

/// Why a capture could not be opened, or stopped receiving. Each names the interface, and
/// a failed system call names the call.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The interface does not exist (in the namespace the capture was opened in).
    #[error("capture on {interface}: no such interface")]
    NoSuchInterface {
        /// The interface.
        interface: String,
    },
    /// The process may not open packet sockets.
    #[error("capture on {interface}: {syscall} needs root (CAP_NET_RAW)")]
    NeedsRoot {
        /// The interface.
        interface: String,
        /// The call that was refused.
        syscall: &'static str,
    },
    /// The interface went down or away while the capture was open (the kernel reports it as
    /// `ENETDOWN` on the socket, net/packet/af_packet.c `packet_notifier`).
    #[error("capture on {interface}: the interface went down or was removed")]
    InterfaceDown {
        /// The interface.
        interface: String,
    },
    /// Any other failed system call.
    #[error("capture on {interface}: {syscall}: {error}")]
    Syscall {
        /// The interface.
        interface: String,
        /// The call, with the option it set where that says more (`setsockopt(PACKET_RX_RING)`).
        syscall: &'static str,
        /// What it returned.
        error: io::Error,
    },
    /// The ring's options cannot make a ring.
    #[error("capture on {interface}: {reason}")]
    InvalidOptions {
        /// The interface.
        interface: String,
        /// What is wrong with them.
        reason: String,
    },
    /// The filter program could not be assembled.
    #[error("capture on {interface}: {source}")]
    Filter {
        /// The interface.
        interface: String,
        /// Why.
        source: FilterError,
    },
    /// The network namespace could not be entered.
    #[error("capture on {interface}: {source}")]
    Netns {
        /// The interface.
        interface: String,
        /// Why.
        source: NetnsError,
    },
    /// The capture's thread could not be started, or ended without an answer (it panicked,
    /// in the callback for instance).
    #[error("capture on {interface}: the capture thread {what}")]
    Thread {
        /// The interface.
        interface: String,
        /// What happened to it.
        what: String,
    },
}

impl CaptureError {
    /// The error of `syscall` on `interface`, by what the kernel said: the errors that say
    /// something to the user get their own variant.
    pub(super) fn from_syscall(interface: &str, syscall: &'static str, error: io::Error) -> Self {
        let interface = interface.to_owned();
        match error.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => CaptureError::NeedsRoot { interface, syscall },
            Some(libc::ENODEV | libc::ENXIO) => CaptureError::NoSuchInterface { interface },
            Some(libc::ENETDOWN) => CaptureError::InterfaceDown { interface },
            _ => CaptureError::Syscall {
                interface,
                syscall,
                error,
            },
        }
    }

    /// The interface the error is about.
    pub fn interface(&self) -> &str {
        match self {
            CaptureError::NoSuchInterface { interface }
            | CaptureError::NeedsRoot { interface, .. }
            | CaptureError::InterfaceDown { interface }
            | CaptureError::Syscall { interface, .. }
            | CaptureError::InvalidOptions { interface, .. }
            | CaptureError::Filter { interface, .. }
            | CaptureError::Netns { interface, .. }
            | CaptureError::Thread { interface, .. } => interface,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_errors_that_say_something_get_their_own_words() {
        let from = |errno| {
            CaptureError::from_syscall(
                "eth9",
                "socket(AF_PACKET)",
                io::Error::from_raw_os_error(errno),
            )
        };
        assert_eq!(
            from(libc::EPERM).to_string(),
            "capture on eth9: socket(AF_PACKET) needs root (CAP_NET_RAW)"
        );
        assert_eq!(
            from(libc::ENODEV).to_string(),
            "capture on eth9: no such interface"
        );
        assert!(matches!(
            from(libc::ENETDOWN),
            CaptureError::InterfaceDown { .. }
        ));
        let other = from(libc::EINVAL);
        assert!(
            other
                .to_string()
                .starts_with("capture on eth9: socket(AF_PACKET): "),
            "{other}"
        );
        assert_eq!(other.interface(), "eth9");
    }
}
