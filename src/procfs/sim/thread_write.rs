//! `pktgen_thread_write` (REFERENCE §2.2): `add_device` with `pktgen_add_device`'s checks in
//! kernel order, the asynchronous `rem_device_all`, and `max_before_softirq`.

use super::parse::{lossy, Input};
use super::run::stop_device;
use super::state::{
    Device, SimIfaceKind, State, WriteRet, EBUSY, EINVAL, ENETDOWN, ENODEV, IFNAMSIZ,
};

impl State {
    /// Lets the asynchronous removals of `rem_device_all` progress by one `list()` call.
    pub(super) fn progress_removals(&mut self) {
        for thread in &mut self.threads {
            thread.devices.retain_mut(|dev| match dev.removal {
                Some(0) => {
                    // pktgen_remove_device stops a running stream first.
                    if dev.running {
                        stop_device(dev);
                    }
                    false
                }
                Some(n) => {
                    dev.removal = Some(n - 1);
                    true
                }
                None => true,
            });
        }
    }

    /// `pktgen_thread_write` (REFERENCE §2.2).
    pub(super) fn thread_write(&mut self, ti: usize, buf: &[u8]) -> WriteRet {
        let count = buf.len();
        if count == 0 {
            return Err(EINVAL);
        }
        let input = Input {
            buf,
            hardened: self.hardened(),
        };
        let mut i = input.count_trail_chars(0);
        let len = input.strn_len(i, 39);
        let name = input.cstr(i, len);
        i += len;
        i += input.count_trail_chars(i);
        match name.as_slice() {
            b"add_device" => {
                let len = input.strn_len(i, 31);
                let f = lossy(&input.cstr(i, len));
                let ret = self.add_device(ti, &f);
                let thread = &mut self.threads[ti];
                match ret {
                    Ok(()) => {
                        thread.result = format!("OK: add_device={f}");
                        Ok(count)
                    }
                    Err(errno) => {
                        thread.result = format!("ERROR: can not add device {f}");
                        Err(errno)
                    }
                }
            }
            b"rem_device_all" => {
                let lag = self.removal_lag;
                let thread = &mut self.threads[ti];
                if lag == 0 {
                    for dev in thread.devices.iter_mut().filter(|d| d.running) {
                        stop_device(dev);
                    }
                    thread.devices.clear();
                } else {
                    for dev in &mut thread.devices {
                        dev.removal = Some(dev.removal.map_or(lag, |n| n.min(lag)));
                    }
                }
                "OK: rem_device_all".clone_into(&mut thread.result);
                Ok(count)
            }
            b"max_before_softirq" => {
                "OK: Note! max_before_softirq is obsoleted -- Do not use"
                    .clone_into(&mut self.threads[ti].result);
                Ok(count)
            }
            _ => Err(EINVAL),
        }
    }

    /// `pktgen_add_device`, with the checks in kernel order (REFERENCE §1.2, §2.2).
    fn add_device(&mut self, ti: usize, name: &str) -> Result<(), i32> {
        // __pktgen_NN_threads(FIND): exact name, any thread of this namespace.
        if self
            .threads
            .iter()
            .any(|t| t.devices.iter().any(|d| d.odevname == name))
        {
            return Err(EBUSY);
        }
        // pktgen_dev_get_by_name: the part before '@', at most IFNAMSIZ characters.
        let iface_name: String = name
            .chars()
            .take_while(|&c| c != '@')
            .take(IFNAMSIZ)
            .collect();
        let Some(iface) = self.interfaces.get(&iface_name) else {
            return Err(ENODEV);
        };
        let type_ok = match iface.kind {
            SimIfaceKind::Ether => true,
            SimIfaceKind::Loopback => self.profile.version >= (5, 7),
            SimIfaceKind::Other => false,
        };
        if !type_ok {
            return Err(EINVAL);
        }
        if !iface.up {
            return Err(ENETDOWN);
        }
        let iface = iface.clone();
        // proc_create_data fails on a clash with any entry of the directory, and on a '/'.
        if self.proc_name_taken(name) || name.contains('/') {
            return Err(EINVAL);
        }
        let dev = Device::new(name, &iface_name, &iface, self.profile);
        self.threads[ti].devices.insert(0, dev);
        Ok(())
    }
}
