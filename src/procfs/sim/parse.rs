//! The kernel's little parsers, as `pktgen_if_write` and `pktgen_thread_write` use them
//! (REFERENCE §2.0): `count_trail_chars`, `strn_len`, `num_arg`, `hex32_arg`, `strncpy_from_user`
//! of a C string, and the value parsers `get_labels`, `get_imix_entries`, `in_aton` and
//! `mac_pton`. Their quirks (reading digits only, hex shifted one nibble too far before 6.15)
//! are kept on purpose.

use super::state::{
    hardened_parser, Device, ImixEntry, E2BIG, EINVAL, F_MPLS_RND, MAX_IMIX_ENTRIES, MIN_PKT_SIZE,
};
use crate::kernel::KernelProfile;

/// The bytes of a C string: everything before the first NUL.
pub(super) fn cstr(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |end| &bytes[..end])
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The user buffer of one write, read with the kernel's little parsers (REFERENCE §2.0).
///
/// Before 6.15 those parsers could read past the end of the buffer when a value was missing;
/// what lies there is unknowable, so the simulator treats the end of the buffer as a
/// terminator on every version.
pub(super) struct Input<'a> {
    pub(super) buf: &'a [u8],
    pub(super) hardened: bool,
}

impl Input<'_> {
    pub(super) fn at(&self, i: usize) -> Option<u8> {
        self.buf.get(i).copied()
    }

    /// `count_trail_chars`: skips `"` `\n` `\r` `\t` space and `=`.
    pub(super) fn count_trail_chars(&self, start: usize) -> usize {
        let mut i = start;
        while matches!(self.at(i), Some(b'"' | b'\n' | b'\r' | b'\t' | b' ' | b'=')) {
            i += 1;
        }
        i - start
    }

    /// `strn_len`: up to `maxlen` bytes before `"` `\n` `\r` `\t` space (and `=` on 6.15+).
    pub(super) fn strn_len(&self, start: usize, maxlen: usize) -> usize {
        let mut n = 0;
        while n < maxlen {
            match self.at(start + n) {
                None | Some(b'"' | b'\n' | b'\r' | b'\t' | b' ') => break,
                Some(b'=') if self.hardened => break,
                Some(_) => n += 1,
            }
        }
        n
    }

    /// `copy_from_user` of `len` bytes into a zeroed buffer, read back as a C string.
    pub(super) fn cstr(&self, start: usize, len: usize) -> Vec<u8> {
        let end = (start + len).min(self.buf.len());
        cstr(self.buf.get(start..end).unwrap_or_default()).to_vec()
    }

    /// `num_arg`: up to `maxlen` decimal digits; no digit at all means 0.
    pub(super) fn num_arg(&self, start: usize, maxlen: usize) -> (usize, u64) {
        let mut value: u64 = 0;
        let mut n = 0;
        while n < maxlen {
            match self.at(start + n) {
                Some(c @ b'0'..=b'9') => {
                    value = value.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    n += 1;
                }
                _ => break,
            }
        }
        (n, value)
    }

    /// `hex32_arg`: up to `maxlen` hex digits. Before 6.15 the value was shifted before the
    /// digit was checked, so a short label ends up one nibble too far (REFERENCE §2.0).
    pub(super) fn hex32_arg(&self, start: usize, maxlen: usize) -> (usize, u32) {
        let mut value: u32 = 0;
        let mut n = 0;
        while n < maxlen {
            if !self.hardened {
                value <<= 4;
            }
            let Some(digit) = self.at(start + n).and_then(hex_value) else {
                break;
            };
            if self.hardened {
                value <<= 4;
            }
            value |= digit;
            n += 1;
        }
        (n, value)
    }

    /// A string value as the string commands read it: `strn_len(max)` then a C string.
    pub(super) fn string(&self, start: usize, max: usize) -> Vec<u8> {
        let len = self.strn_len(start, max);
        self.cstr(start, len)
    }
}

pub(super) fn hex_value(c: u8) -> Option<u32> {
    char::from(c).to_digit(16)
}

/// `get_imix_entries`: `size,weight` pairs separated by single spaces.
pub(super) fn parse_imix(
    dev: &mut Device,
    input: &Input<'_>,
    start: usize,
    hardened: bool,
) -> Result<(), i32> {
    dev.imix.clear();
    let mut i = start;
    loop {
        if hardened && dev.imix.len() >= MAX_IMIX_ENTRIES {
            return Err(E2BIG);
        }
        let (len, size) = input.num_arg(i, 10);
        i += len;
        if input.at(i) != Some(b',') {
            return Err(EINVAL);
        }
        i += 1;
        let (len, weight) = input.num_arg(i, 10);
        if weight == 0 {
            return Err(EINVAL);
        }
        i += len;
        // Before 6.15 a 21st pair overflowed the table before E2BIG; keep the first 20
        // (REFERENCE §2.3).
        if dev.imix.len() >= MAX_IMIX_ENTRIES {
            return Err(E2BIG);
        }
        dev.imix.push(ImixEntry {
            size: size.max(MIN_PKT_SIZE),
            weight,
            count_so_far: 0,
        });
        let separator = input.at(i);
        i += 1;
        if separator != Some(b' ') {
            return Ok(());
        }
    }
}

/// `get_labels` (REFERENCE §2.3, mpls row).
pub(super) fn get_labels(
    dev: &mut Device,
    input: &Input<'_>,
    start: usize,
    profile: KernelProfile,
) -> Result<(), i32> {
    let hardened = hardened_parser(profile);
    dev.labels.clear();
    let mut labels = Vec::new();
    let mut i = start;
    loop {
        if hardened && labels.len() >= profile.max_mpls_labels() {
            return Err(E2BIG);
        }
        if hardened && i >= input.buf.len() {
            return Err(EINVAL);
        }
        let (len, label) = input.hex32_arg(i, 8);
        if len == 0 || (label == 0 && profile.mpls_zero_clears()) {
            // An invalid (or, on 6.15+, zero) value leaves the stack empty.
            return Ok(());
        }
        // The bottom-of-stack bit turns MPLS_RND on; nothing turns it off.
        if label & 0x100 != 0 {
            dev.flags |= F_MPLS_RND;
        }
        labels.push(label);
        i += len;
        let separator = input.at(i);
        i += 1;
        if !hardened && labels.len() > profile.max_mpls_labels() {
            return Err(E2BIG);
        }
        if separator != Some(b',') {
            break;
        }
    }
    dev.labels = labels;
    Ok(())
}

/// `in_aton`: the kernel's lenient dotted-quad parser; garbage gives a partial address.
pub(super) fn in_aton(s: &[u8]) -> u32 {
    let s = cstr(s);
    let mut l: u32 = 0;
    let mut p = 0;
    for _ in 0..4 {
        l <<= 8;
        if p < s.len() {
            let mut val: u32 = 0;
            while p < s.len() && s[p] != b'.' && s[p] != b'\n' {
                // `*str - '0'` on a signed char, added to an unsigned int.
                let digit = i32::from(s[p] as i8) - i32::from(b'0');
                val = val.wrapping_mul(10).wrapping_add(digit as u32);
                p += 1;
            }
            l |= val;
            if p < s.len() {
                p += 1;
            }
        }
    }
    l
}

/// `mac_pton`: `xx:xx:xx:xx:xx:xx` in either case; anything after the 17th character is
/// ignored.
pub(super) fn mac_pton(s: &[u8]) -> Option<[u8; 6]> {
    let s = cstr(s);
    if s.len() < 17 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (index, byte) in mac.iter_mut().enumerate() {
        let hi = hex_value(s[index * 3])?;
        let lo = hex_value(s[index * 3 + 1])?;
        if index != 5 && s[index * 3 + 2] != b':' {
            return None;
        }
        *byte = ((hi << 4) | lo) as u8;
    }
    Some(mac)
}
