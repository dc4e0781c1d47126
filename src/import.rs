//! `pgstate import`: the state file that one of the kernel's `samples/pktgen` scripts would
//! configure, from the same command line (`parameters.sh`'s getopts options).
//!
//! This is a model of the scripts, written from what they do (they are GPL-2.0 and are never
//! copied here): each covered script adds `DEV@N` on threads `-f` to `-f + -t - 1` (sample01:
//! `DEV` on thread 0) and writes the same few commands to each, with its own defaults. The
//! newest scripts are modelled (Linux 6.12 and 7.2 ship identical ones). Older ones differ:
//! 5.10's `parameters.sh` has no `-w`, `-a` or `-k` (there they are unknown options, and
//! `UDP_CSUM` is never written); 6.1's scripts accept `-a` but set their exit trap, which
//! resets pktgen, before they parse it, so on 6.1 only `APPEND=yes` in the environment keeps
//! the configuration after the script exits.
//!
//! What the scripts take from the environment instead of options (`FLOWS`, `FLOWLEN` of
//! sample04, or any variable of `parameters.sh` exported beforehand) is not read: the import
//! takes only the command line, with the scripts' defaults for the rest.
//!
//! No I/O here: [`import`] maps a sample and its arguments to a [`StateFile`] plus notes on
//! what the script would do that the state file does not say.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::model::{DeviceName, MacAddr, V4Addr, V6Addr, XmitMode};
use crate::state_file::{self, DeviceSpec, StateFile};

/// One covered script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// `pktgen_sample01_simple.sh`: `DEV` on thread 0, random UDP source port.
    Simple,
    /// `pktgen_sample02_multiqueue.sh`: `DEV@N` on each thread, random UDP source port.
    Multiqueue,
    /// `pktgen_sample03_burst_single_flow.sh`: one flow per thread, in bursts.
    BurstSingleFlow,
    /// `pktgen_sample04_many_flows.sh`: random source addresses in 8000 flows of 10.
    ManyFlows,
    /// `pktgen_sample05_flow_per_thread.sh`: a fixed source address per thread, in bursts.
    FlowPerThread,
    /// `pktgen_bench_xmit_mode_netif_receive.sh`: into the receive path, in bursts.
    NetifReceive,
    /// `pktgen_bench_xmit_mode_queue_xmit.sh`: through the egress qdisc.
    QueueXmit,
}

impl Sample {
    /// Every covered script.
    pub const ALL: [Sample; 7] = [
        Sample::Simple,
        Sample::Multiqueue,
        Sample::BurstSingleFlow,
        Sample::ManyFlows,
        Sample::FlowPerThread,
        Sample::NetifReceive,
        Sample::QueueXmit,
    ];

    /// The short name (as BENCHMARKS.md and the lab name them).
    pub fn name(self) -> &'static str {
        match self {
            Sample::Simple => "sample01",
            Sample::Multiqueue => "sample02",
            Sample::BurstSingleFlow => "sample03",
            Sample::ManyFlows => "sample04",
            Sample::FlowPerThread => "sample05",
            Sample::NetifReceive => "netif-receive",
            Sample::QueueXmit => "queue-xmit",
        }
    }

    /// The script's file name in `samples/pktgen/`.
    pub fn script(self) -> &'static str {
        match self {
            Sample::Simple => "pktgen_sample01_simple.sh",
            Sample::Multiqueue => "pktgen_sample02_multiqueue.sh",
            Sample::BurstSingleFlow => "pktgen_sample03_burst_single_flow.sh",
            Sample::ManyFlows => "pktgen_sample04_many_flows.sh",
            Sample::FlowPerThread => "pktgen_sample05_flow_per_thread.sh",
            Sample::NetifReceive => "pktgen_bench_xmit_mode_netif_receive.sh",
            Sample::QueueXmit => "pktgen_bench_xmit_mode_queue_xmit.sh",
        }
    }

    /// The name of the matching example in `states/` (also accepted as a name).
    fn example(self) -> &'static str {
        match self {
            Sample::Simple => "simple",
            Sample::Multiqueue => "multiqueue",
            Sample::BurstSingleFlow => "burst-single-flow",
            Sample::ManyFlows => "many-flows",
            Sample::FlowPerThread => "flow-per-thread",
            Sample::NetifReceive => "netif-receive",
            Sample::QueueXmit => "queue-xmit",
        }
    }

    /// Finds a script by its short name (`sample01`, `netif-receive`), its example's name
    /// (`simple`), or its file name with or without a directory and `.sh`
    /// (`./pktgen_sample01_simple.sh`). `_` and `-` are the same.
    pub fn from_name(name: &str) -> Result<Sample, ImportError> {
        let base = Path::new(name)
            .file_name()
            .and_then(|b| b.to_str())
            .unwrap_or(name);
        let base = base.strip_suffix(".sh").unwrap_or(base).replace('_', "-");
        Sample::ALL
            .into_iter()
            .find(|s| {
                let script = s.script().trim_end_matches(".sh").replace('_', "-");
                [s.name(), s.example(), &script].contains(&base.as_str())
            })
            .ok_or_else(|| ImportError::UnknownSample(name.to_owned()))
    }

    /// Whether the script runs on a single device `DEV` on thread 0 (`-t` and `-f` unused).
    fn single_device(self) -> bool {
        self == Sample::Simple
    }

    /// Whether the script always resets pktgen before configuring, `-a` or not.
    fn always_resets(self) -> bool {
        matches!(self, Sample::NetifReceive | Sample::QueueXmit)
    }
}

/// Why an import failed. Each names the option and the value, as the user typed them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// Not one of the covered scripts.
    #[error("unknown sample '{0}' (known: {known})", known = known_samples())]
    UnknownSample(String),
    /// getopts does not know the option.
    #[error(
        "unknown option -{0} (the scripts take -i -s -d -m -p -k -t -f -c -n -b -w -v -x -6 -a)"
    )]
    UnknownOption(char),
    /// An option that takes a value came last.
    #[error("option -{0} needs a value")]
    MissingValue(char),
    /// `-h`: the script prints its usage and exits without configuring anything.
    #[error("-h: the script prints its usage and configures nothing")]
    Help,
    /// No `-i`.
    #[error("missing -i: the scripts need the output interface (-i ethX)")]
    MissingInterface,
    /// sample01 without `-m`.
    #[error("{0} needs -m (destination MAC): the script refuses to run without it")]
    MissingMac(&'static str),
    /// The script refuses `-b`.
    #[error("{0} refuses -b: bursting is not supported in this mode")]
    BurstRefused(&'static str),
    /// A value the script or the kernel would not take as meant.
    #[error("-{option} '{value}': {reason}")]
    BadValue {
        /// The option letter.
        option: char,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn known_samples() -> String {
    Sample::ALL
        .iter()
        .map(|s| format!("{} ({})", s.name(), s.script()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The options of `parameters.sh`, as its getopts loop leaves them: `None` (or `false`)
/// when not given or given empty (the scripts test `-z`, so an empty value is a missing one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptOptions {
    /// `-i DEV`.
    pub dev: Option<String>,
    /// `-s PKT_SIZE`.
    pub pkt_size: Option<String>,
    /// `-d DEST_IP` (an address or a CIDR block).
    pub dest_ip: Option<String>,
    /// `-m DST_MAC`.
    pub dst_mac: Option<String>,
    /// `-p DST_PORT` (a port or `min-max`).
    pub dst_port: Option<String>,
    /// `-f F_THREAD`.
    pub f_thread: Option<String>,
    /// `-t THREADS`.
    pub threads: Option<String>,
    /// `-c CLONE_SKB`.
    pub clone_skb: Option<String>,
    /// `-n COUNT`.
    pub count: Option<String>,
    /// `-b BURST`.
    pub burst: Option<String>,
    /// `-w DELAY`.
    pub delay: Option<String>,
    /// `-6`.
    pub ip6: bool,
    /// `-a`.
    pub append: bool,
    /// `-k`.
    pub udp_csum: bool,
    /// Arguments after the options, which the scripts ignore.
    pub rest: Vec<String>,
}

/// The option letters that take a value (`s:i:d:m:p:f:t:c:n:b:w:` in the getopts string).
const WITH_VALUE: &str = "sidmpftcnbw";
/// The ones that do not (`vxh6ak`).
const FLAGS: &str = "vxh6ak";

/// Parses ARGS as bash's getopts does with the scripts' option string: clustered flags
/// (`-vx`), values attached (`-ieth0`) or separate (`-i eth0`), the last of a repeated option
/// wins, options end at `--` or the first argument that is not one.
pub fn parse_options(args: &[String]) -> Result<ScriptOptions, ImportError> {
    let mut o = ScriptOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            break;
        };
        i += 1;
        for (at, c) in cluster.char_indices() {
            if WITH_VALUE.contains(c) {
                let attached = &cluster[at + c.len_utf8()..];
                let value = if attached.is_empty() {
                    let v = args.get(i).ok_or(ImportError::MissingValue(c))?;
                    i += 1;
                    v.clone()
                } else {
                    attached.to_owned()
                };
                let value = (!value.is_empty()).then_some(value);
                let slot = match c {
                    's' => &mut o.pkt_size,
                    'i' => &mut o.dev,
                    'd' => &mut o.dest_ip,
                    'm' => &mut o.dst_mac,
                    'p' => &mut o.dst_port,
                    'f' => &mut o.f_thread,
                    't' => &mut o.threads,
                    'c' => &mut o.clone_skb,
                    'n' => &mut o.count,
                    'b' => &mut o.burst,
                    _ => &mut o.delay,
                };
                *slot = value;
                break;
            }
            match c {
                'h' => return Err(ImportError::Help),
                '6' => o.ip6 = true,
                'a' => o.append = true,
                'k' => o.udp_csum = true,
                c if FLAGS.contains(c) => {} // -v, -x: the scripts' own verbosity
                c => return Err(ImportError::UnknownOption(c)),
            }
        }
    }
    o.rest = args[i..].to_vec();
    Ok(o)
}

/// A state file and what the script does that it does not say.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The state the script leaves configured.
    pub file: StateFile,
    /// Options the script ignores, settings the state file cannot hold, and the like; for
    /// stderr.
    pub notes: Vec<String>,
}

/// The state that `sample` run with `args` configures.
pub fn import(sample: Sample, args: &[String]) -> Result<Imported, ImportError> {
    let o = parse_options(args)?;
    let mut notes = Vec::new();
    let s = Settings::read(sample, &o, &mut notes)?;
    let mut file = StateFile::default();
    for (thread, name) in device_names(sample, &o, &s, &mut notes)? {
        DeviceName::new(&name).map_err(|e| bad('i', &s.dev, format!("device name {name}: {e}")))?;
        let d = device_spec(sample, &o, &s, thread)?;
        file.devices.insert(name, d);
    }
    if o.ip6 && matches!(sample, Sample::ManyFlows | Sample::FlowPerThread) {
        notes.push(format!(
            "{} also writes IPv4 src_min/src_max, which an IPv6 device ignores (pktgen hides \
             them in IPv6 mode); the state leaves them out",
            sample.script()
        ));
    }
    // Append mode keeps other threads' devices: the state then owns only the threads the
    // script writes to. Without it (and always for the xmit_mode scripts) the script resets
    // all of pktgen first, as a state without `threads:` does.
    if o.append && !sample.always_resets() {
        let mut owned: Vec<u32> = file.devices.values().map(|d| d.thread).collect();
        owned.sort_unstable();
        owned.dedup();
        file.threads = Some(owned);
    }
    if !o.rest.is_empty() {
        notes.push(format!(
            "the script ignores the arguments after its options: {}",
            o.rest.join(" ")
        ));
    }
    check(&file)?;
    Ok(Imported { file, notes })
}

/// The options' values as the script ends up with them, its defaults filled in: what every
/// device of the import is configured from.
struct Settings {
    /// `-i`: the interface, and the base of every device name.
    dev: String,
    pkt_size: u64,
    delay: u64,
    /// `-f` and `-t`: the first thread and how many.
    f_thread: u64,
    threads: u64,
    clone_skb: u64,
    count: u64,
    /// The burst the script writes, if it writes one.
    burst: Option<u64>,
    dst_mac: MacAddr,
    dest: Dest,
    /// `-p`: the UDP destination port range, when given.
    ports: Option<(u64, u64)>,
}

impl Settings {
    /// Reads the options in the order the script checks them, so that the first bad one is
    /// the one reported; notes what `sample` ignores.
    fn read(
        sample: Sample,
        o: &ScriptOptions,
        notes: &mut Vec<String>,
    ) -> Result<Settings, ImportError> {
        let dev = o.dev.clone().ok_or(ImportError::MissingInterface)?;
        let pkt_size = number('s', o.pkt_size.as_deref())?.unwrap_or(60);
        let delay = number('w', o.delay.as_deref())?.unwrap_or(0);
        let f_thread = number('f', o.f_thread.as_deref())?.unwrap_or(0);
        let threads = number('t', o.threads.as_deref())?.unwrap_or(1);
        let clone_skb = number('c', o.clone_skb.as_deref())?.unwrap_or(0);
        let count = number('n', o.count.as_deref())?;
        let burst = number('b', o.burst.as_deref())?;

        let dst_mac = match (&o.dst_mac, sample) {
            (Some(m), _) => m
                .parse::<MacAddr>()
                .map_err(|e| bad('m', m, e.to_string()))?,
            (None, Sample::Simple) => return Err(ImportError::MissingMac(sample.script())),
            (None, _) => MacAddr([0x90, 0xe2, 0xba, 0xff, 0xff, 0xff]),
        };
        let dest = match &o.dest_ip {
            Some(d) => parse_dest(d, o.ip6)?,
            None if o.ip6 => Dest::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1), None),
            None => Dest::V4(Ipv4Addr::new(198, 18, 0, 42), None),
        };
        let ports = o.dst_port.as_deref().map(parse_ports).transpose()?;

        let count = count.unwrap_or(match sample {
            Sample::Simple | Sample::Multiqueue => 100_000,
            Sample::BurstSingleFlow | Sample::ManyFlows | Sample::FlowPerThread => 0,
            Sample::NetifReceive | Sample::QueueXmit => 10_000_000,
        });
        let burst = written_burst(sample, burst, notes)?;
        if sample.always_resets() && o.clone_skb.is_some() {
            notes.push(format!("{} does not use -c", sample.script()));
        }
        Ok(Settings {
            dev,
            pkt_size,
            delay,
            f_thread,
            threads,
            clone_skb,
            count,
            burst,
            dst_mac,
            dest,
            ports,
        })
    }
}

/// The burst `sample` writes for `-b` (`burst`, as given): refused by the scripts that do
/// not burst, defaulted by those that do, noted as unused by the rest.
fn written_burst(
    sample: Sample,
    burst: Option<u64>,
    notes: &mut Vec<String>,
) -> Result<Option<u64>, ImportError> {
    Ok(match sample {
        Sample::ManyFlows | Sample::QueueXmit if burst.is_some() => {
            return Err(ImportError::BurstRefused(sample.script()));
        }
        Sample::BurstSingleFlow | Sample::FlowPerThread => match burst.unwrap_or(32) {
            0 => None, // `-b 0`: the script writes no burst
            b => Some(b),
        },
        // The script writes `burst $BURST` whatever it is; the kernel takes 0 as 1.
        Sample::NetifReceive => Some(burst.unwrap_or(1024).max(1)),
        _ => {
            if burst.is_some() {
                notes.push(format!("{} does not use -b", sample.script()));
            }
            None
        }
    })
}

/// The threads and device names the script's loop goes through: `DEV` on thread 0 for
/// sample01, `DEV@N` on each of threads `-f` to `-f + -t - 1` for the others.
fn device_names(
    sample: Sample,
    o: &ScriptOptions,
    s: &Settings,
    notes: &mut Vec<String>,
) -> Result<Vec<(u32, String)>, ImportError> {
    let (dev, f_thread, threads) = (&s.dev, s.f_thread, s.threads);
    if sample.single_device() {
        if o.threads.is_some() || o.f_thread.is_some() {
            notes.push(format!(
                "{} uses only thread 0 and device {dev}: -t and -f do nothing",
                sample.script()
            ));
        }
        return Ok(vec![(0, dev.clone())]);
    }
    if threads == 0 {
        return Err(bad(
            't',
            &threads.to_string(),
            "the script adds no device".into(),
        ));
    }
    let last = f_thread
        .checked_add(threads - 1)
        .filter(|l| *l < u64::from(u32::MAX))
        .ok_or_else(|| {
            bad(
                't',
                &threads.to_string(),
                "past the last thread number".into(),
            )
        })?;
    Ok((f_thread..=last)
        .map(|t| (t as u32, format!("{dev}@{t}")))
        .collect())
}

/// The device the script configures on `thread`: the settings every script writes, then
/// `sample`'s own ([`sample_settings`]), with the flags in the order the script sets them.
fn device_spec(
    sample: Sample,
    o: &ScriptOptions,
    s: &Settings,
    thread: u32,
) -> Result<DeviceSpec, ImportError> {
    let mut d = DeviceSpec {
        thread,
        count: Some(s.count),
        pkt_size: Some(s.pkt_size),
        delay: Some(s.delay),
        dst_mac: Some(s.dst_mac),
        ..DeviceSpec::default()
    };
    let mut flags: Vec<&str> = Vec::new();
    if sample != Sample::Simple {
        flags.push("QUEUE_MAP_CPU");
    }
    if !sample.always_resets() {
        d.clone_skb = Some(s.clone_skb);
    }
    flags.push("NO_TIMESTAMP");
    match s.dest {
        Dest::V4(min, max) => {
            d.dst = Some(V4Addr(min));
            d.dst_max = Some(V4Addr(max.unwrap_or(min)));
        }
        Dest::V6(min, max) => {
            d.dst6_min = Some(V6Addr(min));
            d.dst6_max = Some(V6Addr(max.unwrap_or(min)));
        }
    }
    if let Some((min, max)) = s.ports {
        flags.push("UDPDST_RND");
        d.udp_dst_min = Some(min);
        d.udp_dst_max = Some(max);
    }
    if o.udp_csum && !sample.always_resets() {
        flags.push("UDPCSUM");
    }
    sample_settings(sample, o, s.threads, &mut d, &mut flags)?;
    d.burst = s.burst;
    d.flags = Some(flags.into_iter().map(str::to_owned).collect());
    Ok(d)
}

/// What only `sample` writes to device `d`: its source ports or addresses, its flows, its
/// xmit mode, and their flags. `threads` (`-t`) names the option a bad source address
/// comes from.
fn sample_settings(
    sample: Sample,
    o: &ScriptOptions,
    threads: u64,
    d: &mut DeviceSpec,
    flags: &mut Vec<&str>,
) -> Result<(), ImportError> {
    let thread = d.thread;
    match sample {
        Sample::Simple | Sample::Multiqueue => {
            flags.push("UDPSRC_RND");
            d.udp_src_min = Some(9);
            d.udp_src_max = Some(109);
        }
        Sample::ManyFlows => {
            flags.push("IPSRC_RND");
            if !o.ip6 {
                // parse_addr 198.18.0.0/15
                d.src_min = Some(V4Addr(Ipv4Addr::new(198, 18, 0, 0)));
                d.src_max = Some(V4Addr(Ipv4Addr::new(198, 19, 255, 255)));
            }
            d.flows = Some(8000);
            d.flowlen = Some(10);
            flags.push("FLOW_SEQ");
        }
        Sample::FlowPerThread => {
            let third = u8::try_from(thread + 1).map_err(|_| {
                bad(
                    't',
                    &threads.to_string(),
                    format!(
                    "thread {thread} would get the source address 198.18.{}.1, which is not one",
                    u64::from(thread) + 1
                ),
                )
            })?;
            if !o.ip6 {
                let src = V4Addr(Ipv4Addr::new(198, 18, third, 1));
                d.src_min = Some(src);
                d.src_max = Some(src);
            }
        }
        Sample::NetifReceive => d.xmit_mode = Some(XmitMode::NetifReceive),
        Sample::QueueXmit => d.xmit_mode = Some(XmitMode::QueueXmit),
        Sample::BurstSingleFlow => {}
    }
    Ok(())
}

/// The state must be one pgstate accepts; the loader's refusal (a packet size below 42, a
/// count past 10 digits, …) is reported against the option that gave the value.
fn check(file: &StateFile) -> Result<(), ImportError> {
    let text = state_file::render_state_file(file).expect("a state file always serialises");
    let Err(err) = state_file::load_texts(&[(Path::new("<import>"), &text)]) else {
        return Ok(());
    };
    let diags = match err {
        state_file::LoadError::Invalid(d) => d,
        other => unreachable!("loading text does no I/O: {other}"),
    };
    let d = &diags[0];
    let key = d.path.rsplit('.').next().unwrap_or_default();
    let device = file.devices.values().next();
    let (option, value) = match key {
        "pkt_size" => ('s', device.and_then(|d| d.pkt_size).map(|v| v.to_string())),
        "count" => ('n', device.and_then(|d| d.count).map(|v| v.to_string())),
        "clone_skb" => ('c', device.and_then(|d| d.clone_skb).map(|v| v.to_string())),
        "burst" => ('b', device.and_then(|d| d.burst).map(|v| v.to_string())),
        "delay" => ('w', device.and_then(|d| d.delay).map(|v| v.to_string())),
        "udp_dst_min" | "udp_dst_max" => ('p', None),
        "thread" | "threads" => ('f', None),
        _ => ('i', None),
    };
    Err(ImportError::BadValue {
        option,
        value: value.unwrap_or_default(),
        reason: format!(
            "pgstate refuses the state it gives: {}: {}",
            d.path, d.message
        ),
    })
}

fn bad(option: char, value: &str, reason: String) -> ImportError {
    ImportError::BadValue {
        option,
        value: value.to_owned(),
        reason,
    }
}

/// A whole number, as the kernel's `num_arg` reads it (decimal digits only: the scripts
/// pass the text through, and the kernel would read `1e3` as 1 and `abc` as 0).
fn number(option: char, value: Option<&str>) -> Result<Option<u64>, ImportError> {
    let Some(v) = value else { return Ok(None) };
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(option, v, "expected a whole number (0 or more)".into()));
    }
    v.parse()
        .map(Some)
        .map_err(|_| bad(option, v, "too large".into()))
}

/// `-d`: one address, or the first and last of a CIDR block.
#[derive(Debug, Clone, Copy)]
enum Dest {
    V4(Ipv4Addr, Option<Ipv4Addr>),
    V6(Ipv6Addr, Option<Ipv6Addr>),
}

/// `validate_addr` and `parse_addr` of `functions.sh`: the block's first address is the
/// given one with the host bits cleared, the last with them set. Their bit masks are built
/// with `printf '1%.s' $(seq $prefix)`, which prints one `1` even for prefix 0, so `/0` gives
/// the range of `/1`: reproduced, since that is what the script configures.
fn parse_dest(text: &str, ip6: bool) -> Result<Dest, ImportError> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let bits = if ip6 { 128 } else { 32 };
    let prefix = prefix
        .map(|p| {
            p.parse::<u32>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| bad('d', text, format!("invalid prefix /{p} (0 to {bits})")))
        })
        .transpose()?;
    let mask = |p: u32| -> u128 {
        let p = p.max(1);
        (!0u128 << (128 - p)) >> (128 - bits)
    };
    if ip6 {
        let a: Ipv6Addr = addr.parse().map_err(|_| {
            bad(
                'd',
                text,
                "not an IPv6 address (with -6, -d takes one, or a CIDR block)".into(),
            )
        })?;
        Ok(match prefix {
            None => Dest::V6(a, None),
            Some(p) => {
                let (v, m) = (u128::from(a), mask(p));
                Dest::V6(Ipv6Addr::from(v & m), Some(Ipv6Addr::from(v | !m)))
            }
        })
    } else {
        let a: Ipv4Addr = addr.parse().map_err(|_| {
            bad('d', text, "not an IPv4 address (expected a.b.c.d or a CIDR block such as 198.18.0.0/15; -6 for IPv6)".into())
        })?;
        Ok(match prefix {
            None => Dest::V4(a, None),
            Some(p) => {
                let (v, m) = (u32::from(a), mask(p) as u32);
                Dest::V4(Ipv4Addr::from(v & m), Some(Ipv4Addr::from(v | !m)))
            }
        })
    }
}

/// `parse_ports` and `validate_ports`: `PORT` or `MIN-MAX`, each 1 to 65535, MIN ≤ MAX.
fn parse_ports(text: &str) -> Result<(u64, u64), ImportError> {
    let invalid = || {
        bad(
            'p',
            text,
            "invalid port(s): expected PORT or MIN-MAX, 1 to 65535".into(),
        )
    };
    let mut parts = text.split('-');
    let min = parts.next().unwrap_or_default();
    let max = parts.next().unwrap_or(min);
    if parts.next().is_some() {
        return Err(invalid());
    }
    let port = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|p| (1..=65535).contains(p) && s.bytes().all(|b| b.is_ascii_digit()))
    };
    match (port(min), port(max)) {
        (Some(a), Some(b)) if a <= b => Ok((a, b)),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    /// The import as YAML, checked to load as a valid state.
    fn yaml(sample: &str, a: &str) -> String {
        let imported = import(Sample::from_name(sample).unwrap(), &args(a)).unwrap();
        let text = state_file::render_state_file(&imported.file).unwrap();
        state_file::load_texts(&[(Path::new("t.yaml"), &text)]).unwrap();
        text
    }

    fn err(sample: &str, a: &str) -> String {
        import(Sample::from_name(sample).unwrap(), &args(a))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn names() {
        for s in Sample::ALL {
            assert_eq!(Sample::from_name(s.name()), Ok(s));
            assert_eq!(Sample::from_name(s.script()), Ok(s));
            assert_eq!(
                Sample::from_name(&format!("/usr/src/x/{}", s.script())),
                Ok(s)
            );
            assert_eq!(Sample::from_name(s.example()), Ok(s));
        }
        assert_eq!(Sample::from_name("netif_receive"), Ok(Sample::NetifReceive));
        assert_eq!(
            Sample::from_name("pktgen_sample02_multiqueue"),
            Ok(Sample::Multiqueue)
        );
        let e = Sample::from_name("sample06").unwrap_err().to_string();
        assert!(
            e.contains("unknown sample 'sample06'") && e.contains("queue-xmit"),
            "{e}"
        );
    }

    #[test]
    fn getopts_like_bash() {
        let o = parse_options(&args("-vx -ieth0 -s 64 -6a -k -n 5 -n 7 -- -t 3")).unwrap();
        assert_eq!(o.dev.as_deref(), Some("eth0"));
        assert_eq!(o.pkt_size.as_deref(), Some("64"));
        assert_eq!(o.count.as_deref(), Some("7"));
        assert!(o.ip6 && o.append && o.udp_csum);
        assert_eq!(o.threads, None);
        assert_eq!(o.rest, args("-t 3"));
        let o = parse_options(&args("-i eth0 extra -t 3")).unwrap();
        assert_eq!(o.threads, None);
        assert_eq!(o.rest, args("extra -t 3"));
        let o = parse_options(&["-i".into(), "eth0".into(), "-d".into(), String::new()]).unwrap();
        assert_eq!(o.dest_ip, None);
        assert_eq!(
            parse_options(&args("-i eth0 -q")),
            Err(ImportError::UnknownOption('q'))
        );
        assert_eq!(
            parse_options(&args("-i eth0 -n")),
            Err(ImportError::MissingValue('n'))
        );
        assert_eq!(parse_options(&args("-h -i eth0")), Err(ImportError::Help));
    }

    #[test]
    fn sample01() {
        assert_eq!(
            yaml(
                "sample01",
                "-i eth0 -s 64 -d 198.18.0.42 -m 02:00:00:00:00:01 -t 2 -n 0"
            ),
            "devices:\n  eth0:\n    thread: 0\n    count: 0\n    pkt_size: 64\n    delay: 0\n    \
             clone_skb: 0\n    dst: \"198.18.0.42\"\n    dst_max: \"198.18.0.42\"\n    \
             dst_mac: \"02:00:00:00:00:01\"\n    udp_src_min: 9\n    udp_src_max: 109\n    \
             flags:\n    - NO_TIMESTAMP\n    - UDPSRC_RND\n"
        );
        let i = import(Sample::Simple, &args("-i eth0 -m 02:00:00:00:00:01 -t 2")).unwrap();
        assert_eq!(i.file.devices["eth0"].count, Some(100_000));
        assert!(i.notes[0].contains("-t and -f do nothing"), "{:?}", i.notes);
        assert!(err("sample01", "-i eth0").contains("needs -m"));
    }

    #[test]
    fn sample02_threads_and_ports() {
        let i = import(
            Sample::Multiqueue,
            &args("-i d0 -t 3 -f 1 -p 1000-2000 -k -w 500 -c 4 -a"),
        )
        .unwrap();
        let names: Vec<&String> = i.file.devices.keys().collect();
        assert_eq!(names, ["d0@1", "d0@2", "d0@3"]);
        assert_eq!(i.file.threads, Some(vec![1, 2, 3]));
        let d = &i.file.devices["d0@3"];
        assert_eq!(d.thread, 3);
        assert_eq!((d.udp_dst_min, d.udp_dst_max), (Some(1000), Some(2000)));
        assert_eq!(
            (d.delay, d.clone_skb, d.count),
            (Some(500), Some(4), Some(100_000))
        );
        assert_eq!(
            d.dst_mac,
            Some(MacAddr([0x90, 0xe2, 0xba, 0xff, 0xff, 0xff]))
        );
        assert_eq!(
            d.flags.as_deref().unwrap(),
            [
                "QUEUE_MAP_CPU",
                "NO_TIMESTAMP",
                "UDPDST_RND",
                "UDPCSUM",
                "UDPSRC_RND"
            ]
        );
        yaml("sample02", "-i d0 -t 3 -f 1 -p 1000-2000 -k -w 500 -c 4 -a");
        // Without -a the script resets everything: the state owns every thread.
        assert_eq!(
            import(Sample::Multiqueue, &args("-i d0"))
                .unwrap()
                .file
                .threads,
            None
        );
    }

    #[test]
    fn sample03_burst() {
        let t = yaml("sample03", "-i d0 -t 2");
        assert!(t.contains("  d0@1:\n    thread: 1\n    count: 0\n"), "{t}");
        assert_eq!(t.matches("burst: 32").count(), 2, "{t}");
        let i = import(Sample::BurstSingleFlow, &args("-i d0 -b 0")).unwrap();
        assert_eq!(i.file.devices["d0@0"].burst, None);
        let i = import(Sample::BurstSingleFlow, &args("-i d0 -b 8")).unwrap();
        assert_eq!(i.file.devices["d0@0"].burst, Some(8));
    }

    #[test]
    fn sample04_flows() {
        let i = import(Sample::ManyFlows, &args("-i d0 -d 198.18.0.0/15")).unwrap();
        let d = &i.file.devices["d0@0"];
        assert_eq!(d.dst, Some(V4Addr(Ipv4Addr::new(198, 18, 0, 0))));
        assert_eq!(d.dst_max, Some(V4Addr(Ipv4Addr::new(198, 19, 255, 255))));
        assert_eq!(d.src_min, Some(V4Addr(Ipv4Addr::new(198, 18, 0, 0))));
        assert_eq!(d.src_max, Some(V4Addr(Ipv4Addr::new(198, 19, 255, 255))));
        assert_eq!((d.flows, d.flowlen), (Some(8000), Some(10)));
        assert!(d.flags.as_ref().unwrap().contains(&"FLOW_SEQ".to_owned()));
        yaml("sample04", "-i d0 -d 198.18.0.0/15 -t 2");
        assert!(err("sample04", "-i d0 -b 4").contains("refuses -b"));
    }

    #[test]
    fn sample05_source_per_thread() {
        let i = import(Sample::FlowPerThread, &args("-i d0 -t 2 -f 4")).unwrap();
        let d = &i.file.devices["d0@5"];
        assert_eq!(d.src_min, Some(V4Addr(Ipv4Addr::new(198, 18, 6, 1))));
        assert_eq!(d.src_max, d.src_min);
        assert_eq!(d.burst, Some(32));
        yaml("sample05", "-i d0 -t 2 -f 4");
        assert!(err("sample05", "-i d0 -f 255").contains("198.18.256.1"));
    }

    #[test]
    fn xmit_mode_benches() {
        let i = import(Sample::NetifReceive, &args("-i d0 -a -c 3")).unwrap();
        let d = &i.file.devices["d0@0"];
        assert_eq!(d.xmit_mode, Some(XmitMode::NetifReceive));
        assert_eq!(
            (d.burst, d.count, d.clone_skb),
            (Some(1024), Some(10_000_000), None)
        );
        // These scripts reset pktgen even with -a.
        assert_eq!(i.file.threads, None);
        assert!(i.notes.iter().any(|n| n.contains("does not use -c")));
        yaml("netif-receive", "-i d0 -b 0 -k");
        let i = import(Sample::NetifReceive, &args("-i d0 -b 0")).unwrap();
        assert_eq!(i.file.devices["d0@0"].burst, Some(1));
        let t = yaml("queue-xmit", "-i d0 -n 1 -t 2");
        assert!(
            t.contains("xmit_mode: queue_xmit") && !t.contains("burst"),
            "{t}"
        );
        assert!(err("queue-xmit", "-i d0 -b 1").contains("refuses -b"));
    }

    #[test]
    fn ipv6() {
        let i = import(Sample::Simple, &args("-i d0 -6 -m 02:00:00:00:00:01")).unwrap();
        let d = &i.file.devices["d0"];
        assert_eq!(d.dst6_min, Some(V6Addr("fd00::1".parse().unwrap())));
        assert_eq!((d.dst, d.dst_max), (None, None));
        let i = import(Sample::FlowPerThread, &args("-i d0 -6 -d fd00::/120")).unwrap();
        let d = &i.file.devices["d0@0"];
        assert_eq!(d.dst6_min, Some(V6Addr("fd00::".parse().unwrap())));
        assert_eq!(d.dst6_max, Some(V6Addr("fd00::ff".parse().unwrap())));
        assert_eq!(d.src_min, None);
        assert!(i.notes.iter().any(|n| n.contains("IPv6")));
        yaml("sample04", "-i d0 -6 -t 2");
        yaml("sample05", "-i d0 -6 -d fd00::/120");
    }

    #[test]
    fn cidr_like_functions_sh() {
        let r = |s| match parse_dest(s, false).unwrap() {
            Dest::V4(a, b) => (a.to_string(), b.map(|b| b.to_string())),
            Dest::V6(..) => unreachable!(),
        };
        assert_eq!(r("10.1.2.3"), ("10.1.2.3".into(), None));
        assert_eq!(
            r("10.1.2.3/32"),
            ("10.1.2.3".into(), Some("10.1.2.3".into()))
        );
        assert_eq!(
            r("10.1.2.3/24"),
            ("10.1.2.0".into(), Some("10.1.2.255".into()))
        );
        // /0 as the script computes it: the range of /1.
        assert_eq!(
            r("200.1.2.3/0"),
            ("128.0.0.0".into(), Some("255.255.255.255".into()))
        );
        assert!(parse_dest("10.1.2.3/33", false).is_err());
        assert!(parse_dest("10.1.2", false).is_err());
        assert!(parse_dest("fd00::1", false).is_err());
        assert!(parse_dest("10.0.0.1", true).is_err());
    }

    #[test]
    fn errors_name_the_option_and_value() {
        assert_eq!(
            err("sample02", "-s 60"),
            ImportError::MissingInterface.to_string()
        );
        assert_eq!(
            err("sample02", "-i d0 -n abc"),
            "-n 'abc': expected a whole number (0 or more)"
        );
        assert!(err("sample02", "-i d0 -m 02:00").contains("-m '02:00': '02:00' is not a MAC"));
        assert!(err("sample02", "-i d0 -p 0").starts_with("-p '0': invalid port"));
        assert!(err("sample02", "-i d0 -p 20-10").starts_with("-p '20-10'"));
        assert!(err("sample02", "-i d0 -d 198.18.0.0/40").contains("invalid prefix /40"));
        assert!(err("sample02", "-i d0 -t 0").contains("adds no device"));
        let e = err("sample02", "-i d0 -s 20");
        assert!(
            e.starts_with("-s '20': pgstate refuses") && e.contains("pkt_size"),
            "{e}"
        );
        let e = err("sample02", "-i d0 -n 99999999999");
        assert!(
            e.starts_with("-n '99999999999'") && e.contains("count"),
            "{e}"
        );
        let e = err("sample02", "-i a/b");
        assert!(e.starts_with("-i 'a/b'"), "{e}");
        assert_eq!(
            err("sample02", "-i d0 -z"),
            ImportError::UnknownOption('z').to_string()
        );
    }
}
