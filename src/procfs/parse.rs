//! Parsers for pktgen's files: `pgctrl`, `kpktgend_N` and device files, and what their
//! `Result:` says (REFERENCE §3, §4, §8).
//!
//! They take `&str` and return values; no I/O here. They are tolerant: fields that only
//! some kernels print are optional, spacing may vary (3.x indents `src_min:` by 8), and
//! unknown lines are collected in `unknown_lines` rather than failing, so a newer kernel
//! never breaks a readback. Tests assert that `unknown_lines` stays empty for every fixture.

use std::net::Ipv6Addr;

use serde::Serialize;

use crate::model::params::{self, Format};
use crate::model::{
    DeviceConfig, DeviceName, Flag, FlagSet, ImixEntry, MacAddr, Vlan, XmitMode,
    DELAY_NEVER_WRITTEN,
};

/// A file could not be understood at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: line {line}: {message}")]
pub struct ParseError {
    /// The pktgen file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// `pgctrl`'s version string: `Version: 2.75` → `"2.75"`, or the whole line if that form
/// is missing (very old kernels print `pktgen v2.68: …`).
pub fn parse_pgctrl(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    match line.rsplit_once("Version:") {
        Some((_, v)) => v.trim().to_owned(),
        None => line.to_owned(),
    }
}

/// A parsed `kpktgend_N` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadFile {
    /// `Running:` names, newest first.
    pub running: Vec<DeviceName>,
    /// `Stopped:` names, newest first.
    pub stopped: Vec<DeviceName>,
    /// `Result:` text.
    pub result: String,
    /// Listed names that are not valid pgstate device names (Linux allows, for example,
    /// non-ASCII interface names). pgstate cannot address them, but must know they are there.
    pub unmanageable: Vec<String>,
}

/// Parses a thread file (REFERENCE §3.2). A leading `Name:` line (2.6.1x) is skipped.
pub fn parse_thread(file: &str, text: &str) -> Result<ThreadFile, ParseError> {
    let mut out = ThreadFile::default();
    let mut saw_lists = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Running:") {
            out.running = parse_name_list(rest, &mut out.unmanageable);
            saw_lists = true;
        } else if let Some(rest) = line.strip_prefix("Stopped:") {
            out.stopped = parse_name_list(rest, &mut out.unmanageable);
            saw_lists = true;
        } else if let Some(rest) = line.strip_prefix("Result:") {
            out.result = rest.trim().to_owned();
        }
    }
    if !saw_lists {
        return Err(ParseError {
            file: file.to_owned(),
            line: 1,
            message: "no 'Running:' or 'Stopped:' line: not a pktgen thread file".into(),
        });
    }
    Ok(out)
}

fn parse_name_list(rest: &str, unmanageable: &mut Vec<String>) -> Vec<DeviceName> {
    let mut out = Vec::new();
    for n in rest.split_whitespace() {
        match DeviceName::new(n) {
            Ok(d) => out.push(d),
            Err(_) => unmanageable.push(n.to_owned()),
        }
    }
    out
}

/// A parsed device file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFile {
    /// The configuration. `src_mac` is what the kernel shows, i.e. the interface MAC when
    /// unset; [`crate::procfs::observe`] normalises it.
    pub config: DeviceConfig,
    /// `ifname:` (the full device name).
    pub ifname: String,
    /// `pkts-sofar`.
    pub sofar: u64,
    /// `errors`.
    pub errors: u64,
    /// `imix_size_counts` (5.15+, with imix only).
    pub imix_size_counts: Vec<(u64, u64)>,
    /// `started` in µs (monotonic clock).
    pub started_us: u64,
    /// `stopped` in µs; "now" while running.
    pub stopped_us: u64,
    /// `idle` in µs.
    pub idle_us: u64,
    /// Everything after `Result: `, continuation lines included, trailing newlines trimmed.
    pub result: String,
    /// Lines that no rule recognised.
    pub unknown_lines: Vec<String>,
}

/// `char::is_whitespace` for an ASCII byte: space, `\t`, `\n`, `\x0b`, `\x0c` and `\r`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// The line of `text` at `*pos` (without its `\n`), with its whitespace-separated tokens (as
/// [`str::split_whitespace`] splits them) pushed onto `toks` in the same pass over its bytes,
/// over bytes when the text is ASCII (a kernel prints only ASCII). `*pos` moves to the next
/// line; `None` past the end.
fn next_line<'a>(
    text: &'a str,
    pos: &mut usize,
    ascii: bool,
    toks: &mut Vec<&'a str>,
) -> Option<&'a str> {
    let start = *pos;
    if start >= text.len() {
        return None;
    }
    if !ascii {
        let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        *pos = end + 1;
        let line = &text[start..end];
        toks.extend(line.split_whitespace());
        return Some(line);
    }
    let bytes = text.as_bytes();
    let mut i = start;
    let mut token = None;
    while let Some(&b) = bytes.get(i) {
        if b == b'\n' {
            break;
        }
        if is_space(b) {
            if let Some(t) = token.take() {
                toks.push(&text[t..i]);
            }
        } else if token.is_none() {
            token = Some(i);
        }
        i += 1;
    }
    if let Some(t) = token {
        toks.push(&text[t..i]);
    }
    *pos = i + 1;
    Some(&text[start..i])
}

/// Is `tok` a `key:` label? IPv6 values such as `::` or `fe80::` also end in `:`, so a key
/// must be an identifier.
fn as_key(tok: &str) -> Option<&str> {
    let key = tok.strip_suffix(':')?;
    let (first, rest) = key.as_bytes().split_first()?;
    (first.is_ascii_alphabetic()
        && rest
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some(key)
}

/// Splits `key: value  key: value` into pairs; a key followed by another key has an empty
/// value (`dst_min:   dst_max: `). A token that is not a key is yielded as `("", token)`.
fn pairs<'a, 'b>(toks: &'b [&'a str]) -> Pairs<'a, 'b> {
    Pairs {
        toks: toks.iter(),
        next_key: None,
    }
}

struct Pairs<'a, 'b> {
    toks: std::slice::Iter<'b, &'a str>,
    /// A key already read as the token after a key without a value.
    next_key: Option<&'a str>,
}

impl<'a> Iterator for Pairs<'a, '_> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let key = match self.next_key.take() {
            Some(key) => key,
            None => {
                let tok = *self.toks.next()?;
                match as_key(tok) {
                    Some(key) => key,
                    None => return Some(("", tok)),
                }
            }
        };
        match self.toks.next() {
            Some(&v) => match as_key(v) {
                Some(following) => {
                    self.next_key = Some(following);
                    Some((key, ""))
                }
                None => Some((key, v)),
            },
            None => Some((key, "")),
        }
    }
}

/// Where in which file a value is read, for its error.
#[derive(Clone, Copy)]
struct At<'f> {
    file: &'f str,
    /// 1-based.
    line: usize,
}

impl At<'_> {
    fn error(self, message: String) -> ParseError {
        ParseError {
            file: self.file.to_owned(),
            line: self.line,
            message,
        }
    }

    fn num<T: std::str::FromStr>(self, key: &str, v: &str) -> Result<T, ParseError> {
        v.parse()
            .map_err(|_| self.error(format!("{key}: '{v}' is not a number")))
    }

    fn hex_byte(self, key: &str, v: &str) -> Result<u8, ParseError> {
        let digits = v.trim_start_matches("0x");
        u8::from_str_radix(digits, 16)
            .map_err(|_| self.error(format!("{key}: '{v}' is not a hex byte")))
    }
}

/// Parses a device file (REFERENCE §3.3, §8.3–8.8).
///
/// Each line is split into tokens once, and the whole file is checked for ASCII once: this
/// runs over every byte of every device file on each readback, under emulators too. The
/// phases of `DeviceReader` work on those tokens and never split a line again.
pub fn parse_device(file: &str, text: &str) -> Result<DeviceFile, ParseError> {
    let mut reader = DeviceReader::new(file);
    let ascii = text.is_ascii();
    let mut toks: Vec<&str> = Vec::with_capacity(24);
    let mut pos = 0;
    loop {
        let line_start = pos;
        toks.clear();
        let Some(raw) = next_line(text, &mut pos, ascii, &mut toks) else {
            break;
        };
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        reader.at.line += 1;
        if raw.starts_with("Result:") {
            reader.out.result = device_result(&text[line_start..]);
            break;
        }
        reader.line(raw, &toks)?;
    }
    reader.finish()
}

/// The `Result:` of a device file: everything from `Result: ` to EOF, since several texts
/// span lines or end in an empty one (REFERENCE §3.3, §8.7).
fn device_result(from_result_line: &str) -> String {
    result_text(from_result_line).unwrap_or_default()
}

/// A `started:`, `stopped:` or `idle:` value without its `us` (REFERENCE §3.3 L23), as
/// `trim_end_matches("us")` would give it: the substring searcher that one builds cost more
/// than the rest of the `Current:` block.
fn without_us(mut v: &str) -> &str {
    while let Some(rest) = v.strip_suffix("us") {
        v = rest;
    }
    v
}

/// One device file being read: the values so far, and what decides the rest.
struct DeviceReader<'f> {
    at: At<'f>,
    out: DeviceFile,
    /// saddr, daddr, min_daddr, max_daddr: they only count when `Flags:` has IPV6, and
    /// `Flags:` comes after them.
    v6: [Ipv6Addr; 4],
    saw_params: bool,
    /// Past the `Current:` line.
    in_current: bool,
    /// Bits indexed like `params::PARAMS`: the plain fields read already.
    plain_seen: u64,
    spi_seen: bool,
    flags: FlagSet,
}

impl<'f> DeviceReader<'f> {
    fn new(file: &'f str) -> Self {
        DeviceReader {
            at: At { file, line: 0 },
            // Lines that are absent mean "default", and the defaults that differ between
            // kernels (only SHARED) are all in the `Flags:` line, which is always printed.
            out: DeviceFile {
                config: DeviceConfig::defaults(),
                ifname: String::new(),
                sofar: 0,
                errors: 0,
                imix_size_counts: Vec::new(),
                started_us: 0,
                stopped_us: 0,
                idle_us: 0,
                result: String::new(),
                unknown_lines: Vec::new(),
            },
            v6: [Ipv6Addr::UNSPECIFIED; 4],
            saw_params: false,
            in_current: false,
            plain_seen: 0,
            spi_seen: false,
            flags: FlagSet::EMPTY,
        }
    }

    /// One line before `Result:`: sends it to the phase of the file it belongs to.
    fn line(&mut self, raw: &str, toks: &[&str]) -> Result<(), ParseError> {
        let Some((&first, rest)) = toks.split_first() else {
            return Ok(());
        };
        if first == "Current:" && rest.is_empty() {
            self.in_current = true;
            return Ok(());
        }
        if self.in_current {
            return self.current(raw, first, toks);
        }
        match first {
            "Params:" => self.params(toks),
            "imix_weights:" => self.imix_weights(rest),
            "mpls:" => self.mpls(rest),
            "vlan_id:" => {
                self.out.config.vlan = Some(self.vlan(raw, toks)?);
                Ok(())
            }
            "svlan_id:" => {
                self.out.config.svlan = Some(self.vlan(raw, toks)?);
                Ok(())
            }
            "Flags:" => self.flags(raw, rest),
            _ => self.config_pairs(raw, toks),
        }
    }

    /// The `Params:` line (L1): `Params: count %llu  min_pkt_size: %u  max_pkt_size: %u`,
    /// whose `count` has no colon.
    fn params(&mut self, toks: &[&str]) -> Result<(), ParseError> {
        let at = self.at;
        self.saw_params = true;
        if let Some(at_count) = toks.iter().position(|&t| t == "count") {
            if let Some(v) = toks.get(at_count + 1) {
                self.out.config.count = at.num("count", v)?;
            }
        }
        for (k, v) in pairs(toks) {
            match k {
                "min_pkt_size" => self.out.config.min_pkt_size = at.num(k, v)?,
                "max_pkt_size" => self.out.config.max_pkt_size = at.num(k, v)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The `imix_weights:` line (L2, 5.15+): `size,weight` pairs.
    fn imix_weights(&mut self, values: &[&str]) -> Result<(), ParseError> {
        let at = self.at;
        for &tok in values {
            let (s, w) = tok
                .split_once(',')
                .ok_or_else(|| at.error(format!("imix_weights: '{tok}' is not size,weight")))?;
            self.out.config.imix_weights.push(ImixEntry {
                size: at.num("imix_weights", s)?,
                weight: at.num("imix_weights", w)?,
            });
        }
        Ok(())
    }

    /// The `mpls:` line (L11): `%08x` labels joined by `, `.
    fn mpls(&mut self, values: &[&str]) -> Result<(), ParseError> {
        let at = self.at;
        for &tok in values {
            let tok = tok.trim_end_matches(',');
            let label = u32::from_str_radix(tok, 16)
                .map_err(|_| at.error(format!("mpls: '{tok}' is not a hex label")))?;
            self.out.config.mpls.push(label);
        }
        Ok(())
    }

    /// The `vlan_id:` and `svlan_id:` lines (L12, L13), printed only while the tag is on.
    fn vlan(&mut self, raw: &str, toks: &[&str]) -> Result<Vlan, ParseError> {
        let at = self.at;
        let mut tag = Vlan::default();
        for (k, v) in pairs(toks) {
            match k {
                "vlan_id" | "svlan_id" => tag.id = at.num(k, v)?,
                // The svlan line labels its values vlan_p/vlan_cfi (REFERENCE §3.3 L13).
                "vlan_p" => tag.p = at.num(k, v)?,
                "vlan_cfi" => tag.cfi = at.num(k, v)?,
                _ => self.out.unknown_lines.push(raw.to_owned()),
            }
        }
        Ok(tag)
    }

    /// The `Flags:` line (L19): flag names, and `spi:N` after IPSEC.
    fn flags(&mut self, raw: &str, values: &[&str]) -> Result<(), ParseError> {
        for &tok in values {
            if let Some(spi) = tok.strip_prefix("spi:") {
                self.out.config.spi = self.at.num("spi", spi)?;
                self.spi_seen = true;
            } else if tok == "FLOW_RND" {
                // Printed in FLOW_SEQ's slot when flows > 0 and FLOW_SEQ is clear.
            } else {
                match tok.parse::<Flag>() {
                    Ok(f) => self.flags.set(f, true),
                    Err(_) => self.out.unknown_lines.push(raw.to_owned()),
                }
            }
        }
        Ok(())
    }

    /// Any other line of the `Params:` block (L3–L18): `key: value` pairs. A line with an
    /// unknown key is kept whole in `unknown_lines`, once.
    fn config_pairs(&mut self, raw: &str, toks: &[&str]) -> Result<(), ParseError> {
        for (k, v) in pairs(toks) {
            if let Some((index, _, plain)) = params::by_readback(k) {
                self.plain(index, plain, k, v)?;
            } else if !self.address(k, v)? && !self.other_field(raw, k, v)? {
                self.out.unknown_lines.push(raw.to_owned());
                break;
            }
        }
        Ok(())
    }

    /// A field of the `params::PARAMS` table, printed as a plain number.
    fn plain(
        &mut self,
        index: usize,
        plain: &params::Plain,
        k: &str,
        v: &str,
    ) -> Result<(), ParseError> {
        // The first line wins: `flows:` also appears under `Current:` in formats without
        // that header line.
        let bit = 1u64 << index;
        if self.plain_seen & bit != 0 {
            return Ok(());
        }
        let at = self.at;
        let n = match plain.format {
            Format::Decimal => at.num(k, v)?,
            Format::Hex2 => u64::from(at.hex_byte(k, v)?),
        };
        if !(plain.fits)(n) {
            return Err(at.error(format!("{k}: '{v}' is out of range")));
        }
        (plain.set)(&mut self.out.config, n);
        self.plain_seen |= bit;
        Ok(())
    }

    /// The addresses (L7a, L7b, L8): IPv4 ranges as raw strings, IPv6 addresses, MACs.
    /// False when `k` is not one of them.
    fn address(&mut self, k: &str, v: &str) -> Result<bool, ParseError> {
        let at = self.at;
        let c = &mut self.out.config;
        match k {
            // Kept as the kernel prints it (`%pI4`, or empty when unset): the desired side
            // holds the same dotted-quad form, and `0.0.0.0` stays distinct from unset, since
            // an empty `src_min` makes `pktgen_setup_inject` use the interface's address
            // (REFERENCE §2.3).
            "dst_min" => c.dst_min = v.to_owned(),
            "dst_max" => c.dst_max = v.to_owned(),
            "src_min" => c.src_min = v.to_owned(),
            "src_max" => c.src_max = v.to_owned(),
            "saddr" | "daddr" | "min_daddr" | "max_daddr" | "min_saddr" | "max_saddr" => {
                let addr: Ipv6Addr = v
                    .parse()
                    .map_err(|_| at.error(format!("{k}: '{v}' is not an IPv6 address")))?;
                match k {
                    "saddr" => self.v6[0] = addr,
                    "daddr" => self.v6[1] = addr,
                    "min_daddr" => self.v6[2] = addr,
                    "max_daddr" => self.v6[3] = addr,
                    // min/max_saddr cannot be written (REFERENCE §2.3).
                    _ => {}
                }
            }
            "src_mac" | "dst_mac" => {
                let mac: MacAddr = v.parse().map_err(|e| at.error(format!("{k}: {e}")))?;
                if k == "src_mac" {
                    c.src_mac = mac;
                } else {
                    c.dst_mac = mac;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The fields of the `Params:` block that are neither plain numbers nor addresses:
    /// `delay`, `ifname`, `node`, `xmit_mode`. False when `k` is not one of them.
    fn other_field(&mut self, raw: &str, k: &str, v: &str) -> Result<bool, ParseError> {
        let at = self.at;
        let c = &mut self.out.config;
        match k {
            "delay" => {
                let d: u64 = at.num(k, v)?;
                c.delay = if d == u64::MAX {
                    DELAY_NEVER_WRITTEN
                } else {
                    d
                };
            }
            "ifname" => self.out.ifname = v.to_owned(),
            "node" => {
                let n: i64 = at.num(k, v)?;
                c.node = u32::try_from(n).ok();
            }
            "xmit_mode" => match v {
                "netif_receive" => c.xmit_mode = XmitMode::NetifReceive,
                // 4.8+ prints queue_xmit as `xmit_queue` (REFERENCE §2.3).
                "xmit_queue" | "queue_xmit" => c.xmit_mode = XmitMode::QueueXmit,
                "start_xmit" => c.xmit_mode = XmitMode::StartXmit,
                _ => self.out.unknown_lines.push(raw.to_owned()),
            },
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// A line of the `Current:` block (L21–L28): the counters, `imix_size_counts` and the
    /// `started:`/`stopped:`/`idle:` timestamps in µs; the run-time cursors are skipped.
    fn current(&mut self, raw: &str, first: &str, toks: &[&str]) -> Result<(), ParseError> {
        let at = self.at;
        if first == "imix_size_counts:" {
            for &tok in &toks[1..] {
                let (s, n) = tok.split_once(',').unwrap_or((tok, "0"));
                self.out.imix_size_counts.push((
                    at.num("imix_size_counts", s)?,
                    at.num("imix_size_counts", n)?,
                ));
            }
            return Ok(());
        }
        let out = &mut self.out;
        for (k, v) in pairs(toks) {
            match k {
                "pkts-sofar" => out.sofar = at.num(k, v)?,
                "errors" => out.errors = at.num(k, v)?,
                "started" => out.started_us = at.num(k, without_us(v))?,
                "stopped" => out.stopped_us = at.num(k, without_us(v))?,
                "idle" => out.idle_us = at.num(k, without_us(v))?,
                // Run-time cursors: not configuration.
                "seq_num" | "cur_dst_mac_offset" | "cur_src_mac_offset" | "cur_saddr"
                | "cur_daddr" | "cur_udp_dst" | "cur_udp_src" | "cur_queue_map" | "flows" => {}
                _ => out.unknown_lines.push(raw.to_owned()),
            }
        }
        Ok(())
    }

    /// After the last line: what the `Flags:` line decides about values read before it.
    fn finish(mut self) -> Result<DeviceFile, ParseError> {
        if !self.saw_params {
            return Err(At {
                file: self.at.file,
                line: 1,
            }
            .error("no 'Params:' line: not a pktgen device file".into()));
        }
        let c = &mut self.out.config;
        c.flags = self.flags;
        if self.flags.contains(Flag::IPV6) {
            [c.src6, c.dst6, c.dst6_min, c.dst6_max] = self.v6;
        }
        // Hidden without IPSEC and on unfixed 4.16–6.5 kernels (REFERENCE §3.3 L19): unseen
        // reads as 0.
        if !self.spi_seen {
            c.spi = 0;
        }
        Ok(self.out)
    }
}

/// The `Result:` text of any pktgen file, continuation lines included (REFERENCE §3.3:
/// everything from `Result: ` to EOF).
pub fn result_text(text: &str) -> Option<String> {
    let start = if text.starts_with("Result:") {
        0
    } else {
        text.find("\nResult:")? + 1
    };
    let rest = &text[start + "Result:".len()..];
    Some(
        rest.strip_prefix(' ')
            .unwrap_or(rest)
            .trim_end_matches(['\n', ' '])
            .to_owned(),
    )
}

/// What a `Result:` text (as [`result_text`] gives it) says. This is the one reading of it:
/// apply's write checks and run's reports both go through [`ResultLine::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultLine<'a> {
    /// `Idle`, or no text at all: the kernel prints an empty result as `Idle` (REFERENCE
    /// §3.3 L29), and a listed device without a readable file has none.
    Idle,
    /// `Starting`, written by `start` for every device (REFERENCE §5.2). Whether a stream
    /// runs is the thread's `Running:` list: a config write during a run overwrites this.
    Starting,
    /// The statistics of a stream that stopped (`show_results`).
    Run(RunStats),
    /// Any other `OK:`: a command's confirmation, such as `count=5` or `add_device=eth0`
    /// (the text after `OK:`).
    Ok(&'a str),
    /// Anything else: what the kernel refused or failed (`ERROR: tos must be 00-ff`,
    /// `No such parameter "foo"`, `Flag -:BOGUS:- unknown…`, `Error starting`,
    /// `No memory`), or a thread's `NA` before its first command. Several refusals show
    /// only here, with a write that succeeded (REFERENCE §4).
    Other(&'a str),
}

impl<'a> ResultLine<'a> {
    /// Reads a `Result:` text, continuation lines included.
    pub fn parse(text: &'a str) -> ResultLine<'a> {
        match text {
            "" | "Idle" => ResultLine::Idle,
            "Starting" => ResultLine::Starting,
            _ => match text.strip_prefix("OK:") {
                Some(rest) => {
                    run_stats(rest).map_or(ResultLine::Ok(rest.trim_start()), ResultLine::Run)
                }
                None => ResultLine::Other(text),
            },
        }
    }

    /// Whether the kernel said `OK:`, the check of `samples/pktgen/functions.sh`
    /// (`grep "Result: OK:"`, REFERENCE §4).
    pub fn is_ok(&self) -> bool {
        matches!(self, ResultLine::Run(_) | ResultLine::Ok(_))
    }

    /// The run statistics, if that is what it says.
    pub fn run_stats(&self) -> Option<RunStats> {
        match self {
            ResultLine::Run(s) => Some(*s),
            _ => None,
        }
    }
}

/// The numbers of a finished stream, from `show_results` (REFERENCE §3.3):
/// `OK: %llu(c%llu+d%llu) usec, %llu (%dbyte,%dfrags)\n  %llupps %lluMb/sec (%llubps) errors: %llu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Elapsed time in µs.
    pub elapsed_us: u64,
    /// Time spent sending (elapsed − idle), µs.
    pub busy_us: u64,
    /// Time spent waiting, µs.
    pub idle_us: u64,
    /// Packets sent.
    pub packets: u64,
    /// Bytes per packet (the current size; the first imix size with imix).
    pub bytes_per_packet: u64,
    /// Page fragments per packet; the kernel prints -1 when no skb is held at the end.
    pub frags: i64,
    /// Packets per second.
    pub pps: u64,
    /// Megabits per second (integer, as the kernel prints it).
    pub mbps: u64,
    /// Bits per second.
    pub bps: u64,
    /// Transmit errors.
    pub errors: u64,
}

fn number_before<'a>(s: &'a str, suffix: &str) -> Option<(&'a str, &'a str)> {
    let end = s.find(suffix)?;
    let start = s[..end]
        .rfind(|c: char| !c.is_ascii_digit() && c != '-')
        .map_or(0, |i| i + 1);
    Some((&s[start..end], &s[end + suffix.len()..]))
}

/// The `show_results` numbers after `OK:`; `None` for any other confirmation.
fn run_stats(after_ok: &str) -> Option<RunStats> {
    let rest = after_ok.trim_start();
    let (elapsed, rest) = rest.split_once("(c")?;
    let (busy, rest) = rest.split_once("+d")?;
    let (idle, rest) = rest.split_once(')')?;
    let rest = rest.trim_start().strip_prefix("usec,")?.trim_start();
    let (packets, rest) = rest.split_once(" (")?;
    let (bytes, rest) = rest.split_once("byte,")?;
    let (frags, rest) = rest.split_once("frags)")?;
    let (pps, rest) = number_before(rest, "pps")?;
    let (mbps, rest) = number_before(rest, "Mb/sec")?;
    let (bps, rest) = number_before(rest, "bps)")?;
    let errors = rest.trim().strip_prefix("errors:")?.trim();
    Some(RunStats {
        elapsed_us: elapsed.trim().parse().ok()?,
        busy_us: busy.parse().ok()?,
        idle_us: idle.parse().ok()?,
        packets: packets.trim().parse().ok()?,
        bytes_per_packet: bytes.trim().parse().ok()?,
        frags: frags.trim().parse().ok()?,
        pps: pps.parse().ok()?,
        mbps: mbps.parse().ok()?,
        bps: bps.parse().ok()?,
        errors: errors.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_us_trims_as_trim_end_matches_does() {
        for v in ["", "us", "0us", "12usus", "12u", "u", "uus", "12", "us12us"] {
            assert_eq!(without_us(v), v.trim_end_matches("us"), "{v:?}");
        }
    }

    const FRESH_6_12: &str = "Params: count 1000  min_pkt_size: 0  max_pkt_size: 0\n     frags: 0  delay: 0  clone_skb: 0  ifname: eth0@0\n     flows: 0 flowlen: 0\n     queue_map_min: 0  queue_map_max: 0\n     dst_min:   dst_max: \n     src_min:   src_max: \n     src_mac: 52:54:00:12:34:56 dst_mac: 00:00:00:00:00:00\n     udp_src_min: 9  udp_src_max: 9  udp_dst_min: 9  udp_dst_max: 9\n     src_mac_count: 0  dst_mac_count: 0\n     Flags: SHARED  \nCurrent:\n     pkts-sofar: 0  errors: 0\n     started: 0us  stopped: 0us idle: 0us\n     seq_num: 0  cur_dst_mac_offset: 0  cur_src_mac_offset: 0\n     cur_saddr: 0.0.0.0  cur_daddr: 0.0.0.0\n     cur_udp_dst: 0  cur_udp_src: 0\n     cur_queue_map: 0\n     flows: 0\nResult: Idle\n";

    #[test]
    fn fresh_device_parses_to_the_kernel_defaults() {
        let d = parse_device("eth0@0", FRESH_6_12).unwrap();
        assert!(d.unknown_lines.is_empty(), "{:?}", d.unknown_lines);
        let mut expected = DeviceConfig::fresh(&crate::kernel::KernelProfile::LINUX_6_12);
        expected.src_mac = "52:54:00:12:34:56".parse().unwrap();
        assert_eq!(d.config, expected);
        assert_eq!(d.ifname, "eth0@0");
        assert_eq!(d.result, "Idle");
    }

    #[test]
    fn ipv6_vlan_imix_device_parses() {
        // REFERENCE §8.5.
        let text = "Params: count 0  min_pkt_size: 0  max_pkt_size: 0\n     imix_weights: 64,7 576,4 1500,1 \n     frags: 0  delay: 0  clone_skb: 0  ifname: eth1@1\n     flows: 0 flowlen: 0\n     queue_map_min: 0  queue_map_max: 0\n     skb_priority: 7\n     saddr: 2001:db8::1  min_saddr: ::  max_saddr: ::\n     daddr: 2001:db8::2  min_daddr: ::  max_daddr: ::\n     src_mac: 52:54:00:ab:cd:01 dst_mac: 00:00:00:00:00:00\n     udp_src_min: 9  udp_src_max: 9  udp_dst_min: 9  udp_dst_max: 9\n     src_mac_count: 0  dst_mac_count: 0\n     vlan_id: 100  vlan_p: 3  vlan_cfi: 0\n     traffic_class: 0xb8\n     xmit_mode: xmit_queue\n     Flags: IPV6  UDPCSUM  SHARED  \nCurrent:\n     pkts-sofar: 0  errors: 0\n     imix_size_counts: 64,0 576,0 1500,0 \n     started: 0us  stopped: 0us idle: 0us\n     seq_num: 0  cur_dst_mac_offset: 0  cur_src_mac_offset: 0\n     cur_saddr: 2001:db8::1  cur_daddr: 2001:db8::2\n     cur_udp_dst: 0  cur_udp_src: 0\n     cur_queue_map: 0\n     flows: 0\nResult: OK: flags=0x40041\n";
        let d = parse_device("eth1@1", text).unwrap();
        assert!(d.unknown_lines.is_empty(), "{:?}", d.unknown_lines);
        let c = &d.config;
        assert_eq!(c.count, 0);
        assert_eq!(c.imix_weights.len(), 3);
        assert_eq!(
            c.imix_weights[1],
            ImixEntry {
                size: 576,
                weight: 4
            }
        );
        assert_eq!(c.skb_priority, 7);
        assert_eq!(c.src6, "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(c.dst6, "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            c.vlan,
            Some(Vlan {
                id: 100,
                p: 3,
                cfi: 0
            })
        );
        assert_eq!(c.traffic_class, 0xb8);
        assert_eq!(c.xmit_mode, XmitMode::QueueXmit);
        assert_eq!(c.flags.bits(), 0x40041);
        assert_eq!(d.imix_size_counts, vec![(64, 0), (576, 0), (1500, 0)]);
    }

    #[test]
    fn run_results_span_lines_and_flags_carry_spi() {
        let text = "Params: count 100000  min_pkt_size: 60  max_pkt_size: 60\n     frags: 0  delay: 18446744073709551615  clone_skb: 64  ifname: eth4@0\n     flows: 1024 flowlen: 8\n     queue_map_min: 0  queue_map_max: 0\n     dst_min: 192.168.81.2  dst_max: \n        src_min:   src_max: \n     src_mac: 90:E2:BA:0A:56:B4 dst_mac: 00:1b:21:3c:9d:f8\n     udp_src_min: 9  udp_src_max: 109  udp_dst_min: 9  udp_dst_max: 9\n     src_mac_count: 0  dst_mac_count: 0\n     mpls: 0001000a, 0002000a\n     svlan_id: 20  vlan_p: 5  vlan_cfi: 0\n     tos: 0x28\n     burst: 8\n     node: 0\n     Flags: FLOW_RND  IPSEC  spi:256  SHARED  \nCurrent:\n     pkts-sofar: 100000  errors: 0\n     started: 623913381008us  stopped: 623913396439us idle: 25us\nResult: OK: 15430(c15405+d25) usec, 100000 (60byte,0frags)\n  6480562pps 3110Mb/sec (3110669760bps) errors: 0\n";
        let d = parse_device("eth4@0", text).unwrap();
        assert!(d.unknown_lines.is_empty(), "{:?}", d.unknown_lines);
        let c = &d.config;
        assert_eq!(c.delay, DELAY_NEVER_WRITTEN);
        assert_eq!(c.flows, 1024);
        assert_eq!(c.flowlen, 8);
        assert_eq!(c.dst_min, "192.168.81.2");
        assert_eq!(c.src_mac.to_string(), "90:e2:ba:0a:56:b4");
        assert_eq!(c.mpls, vec![0x1000a, 0x2000a]);
        assert_eq!(
            c.svlan,
            Some(Vlan {
                id: 20,
                p: 5,
                cfi: 0
            })
        );
        assert_eq!(c.tos, 0x28);
        assert_eq!(c.burst, 8);
        assert_eq!(c.node, Some(0));
        assert_eq!(c.spi, 256);
        assert!(c.flags.contains(Flag::IPSEC) && !c.flags.contains(Flag::FLOW_SEQ));
        assert_eq!(d.sofar, 100000);
        assert!(d.result.starts_with("OK: 15430(c15405+d25) usec"));
        assert!(d.result.ends_with("errors: 0"));
    }

    #[test]
    fn result_texts_read_as_what_they_say() {
        // REFERENCE §8.4, §8.7 and §3.2.
        let run = "OK: 15430(c15405+d25) usec, 100000 (60byte,0frags)\n  6480562pps 3110Mb/sec (3110669760bps) errors: 0";
        let ResultLine::Run(s) = ResultLine::parse(run) else {
            panic!("{run}");
        };
        assert_eq!((s.packets, s.pps, s.errors), (100000, 6480562, 0));
        for (text, said) in [
            ("Idle", ResultLine::Idle),
            ("", ResultLine::Idle),
            ("Starting", ResultLine::Starting),
            ("OK: count=5", ResultLine::Ok("count=5")),
            (
                "OK: Clearing counters.",
                ResultLine::Ok("Clearing counters."),
            ),
            (
                "OK: 15430(c15405+d25) usec",
                ResultLine::Ok("15430(c15405+d25) usec"),
            ),
            (
                "ERROR: tos must be 00-ff",
                ResultLine::Other("ERROR: tos must be 00-ff"),
            ),
            (
                "No such parameter \"foo\"",
                ResultLine::Other("No such parameter \"foo\""),
            ),
            ("Error starting", ResultLine::Other("Error starting")),
            ("NA", ResultLine::Other("NA")),
            // Only the kernel's exact words: apply's check is `grep "Result: OK:"`.
            (" OK: count=5", ResultLine::Other(" OK: count=5")),
            ("Idle ", ResultLine::Other("Idle ")),
        ] {
            assert_eq!(ResultLine::parse(text), said, "{text:?}");
            assert_eq!(said.is_ok(), text.starts_with("OK:"), "{text:?}");
            assert_eq!(said.run_stats(), None, "{text:?}");
        }
    }

    #[test]
    fn thread_lists_are_newest_first_and_tolerate_a_name_line() {
        let t = parse_thread(
            "kpktgend_0",
            "Running: \nStopped: eth0@0 eth1 \nResult: OK: add_device=eth0@0\n",
        )
        .unwrap();
        assert_eq!(
            t.stopped.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            ["eth0@0", "eth1"]
        );
        assert!(t.running.is_empty());
        assert_eq!(t.result, "OK: add_device=eth0@0");
        let old = parse_thread("kpktgend_0", "Name: kpktgend_0  max_before_softirq: 10000\nRunning: \nStopped: eth1 \nResult: OK: max_before_softirq=10000\n").unwrap();
        assert_eq!(old.stopped.len(), 1);
        assert!(parse_thread("kpktgend_0", "garbage").is_err());
        // Linux allows interface names pgstate cannot address; they are kept aside.
        let odd = parse_thread(
            "kpktgend_1",
            "Running: \nStopped: eth0 \u{e9}th1@2 \nResult: NA\n",
        )
        .unwrap();
        assert_eq!(odd.stopped.len(), 1);
        assert_eq!(odd.unmanageable, ["\u{e9}th1@2"]);
    }

    #[test]
    fn pgctrl_version_is_extracted() {
        assert_eq!(
            parse_pgctrl("Packet Generator for packet performance testing. Version: 2.75\n"),
            "2.75"
        );
        assert_eq!(
            parse_pgctrl("pktgen v2.68: Packet Generator for packet performance testing.\n"),
            "pktgen v2.68: Packet Generator for packet performance testing."
        );
    }

    #[test]
    fn tokens_split_as_split_whitespace_does() {
        for text in [
            "",
            "   ",
            "a",
            " Params: count 1000  min_pkt_size: 0 ",
            "a\tb\x0bc\x0cd\re\nf",
            "\u{e9}th1@2 x\u{a0}y\u{2003}z \u{3000}",
            "\u{85}key:\u{2028}value\u{feff}",
        ] {
            assert_eq!(
                all_tokens(text),
                text.split_whitespace().collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }

    fn all_tokens(text: &str) -> Vec<&str> {
        let (mut toks, mut pos) = (Vec::new(), 0);
        while next_line(text, &mut pos, text.is_ascii(), &mut toks).is_some() {}
        toks
    }

    fn pairs_of(line: &str) -> Vec<(&str, &str)> {
        pairs(&all_tokens(line)).collect()
    }

    #[test]
    fn ipv6_values_ending_in_a_colon_are_not_keys() {
        assert_eq!(
            pairs_of("saddr: ::  min_saddr: fe80::  max_saddr: ::"),
            vec![
                ("saddr", "::"),
                ("min_saddr", "fe80::"),
                ("max_saddr", "::")
            ]
        );
        assert_eq!(
            pairs_of("dst_min:   dst_max: "),
            vec![("dst_min", ""), ("dst_max", "")]
        );
    }
}
