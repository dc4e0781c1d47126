//! Loads state files: one YAML file, or a directory of `*.yaml`/`*.yml` merged. Every
//! problem becomes a [`Diagnostic`] with file, line, column and field path, and all problems
//! of all files are reported together.
//!
//! This file holds the entry points ([`load_path`], [`load_texts`]) and the merge of several
//! files into one desired state, validation included. The parts: `io` (reading files and
//! directories with limits), `scan` (the located yaml-rust2 scan and [`LocationIndex`]),
//! `value` (serde_yaml's value built from the scan's events) and `fast_path` (where that
//! value is left to serde_yaml itself),
//! `document` (one file's text to its schema), `diagnostics` ([`LoadError`] and how
//! problems are located, cut and capped).

mod diagnostics;
mod document;
mod edit;
mod fast_path;
mod io;
mod receivers;
mod scan;
mod value;

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::validate::{kernel_notes, validate_device, FieldError};
use crate::error::{Diagnostic, Location};
use crate::model::{DesiredReceiver, DesiredState, DeviceName, NamespaceName, ThreadId};
use crate::state_file::schema::{DeviceSpec, ReceiverSpec};

use diagnostics::{file_diag, finish_diagnostics, sort_diagnostics, FileCtx};
use document::{document_value, parse_file, structure_refused, Structure};
use io::{read_state_file, state_files};
use scan::{scan, Indexing, Scan};

pub use diagnostics::{LoadError, MAX_DIAGNOSTICS};
pub use io::MAX_STATE_FILE_BYTES;
pub use scan::{LocationIndex, MAX_ALIAS_EXPANSION, MAX_NESTING_DEPTH, MAX_YAML_NODES};

/// Where each key of the loaded files is, to locate later errors (for example a write the
/// kernel refused, or a thread this box lacks) in the source, with the line to show.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
    // An index into `files`: one index per file, shared by its devices; cloning it per device
    // made loading a file of N devices take O(N²) time and memory (5000 devices: 75 s, 24 GB).
    devices: HashMap<DeviceName, usize>,
    /// Each thread of `threads:`: the file and element that first list it.
    threads: HashMap<ThreadId, (usize, usize)>,
    /// Each receiver of `receivers:`: the file that gives it.
    receivers: HashMap<String, usize>,
    /// Where `devices:` and `threads:` are: empty for the top level, `namespaces.NAME` for a
    /// namespace's.
    prefix: Vec<String>,
}

/// One loaded file: its name, its text (for the source line under a diagnostic) and index.
#[derive(Debug, Clone)]
struct SourceFile {
    path: PathBuf,
    text: Arc<str>,
    index: Arc<LocationIndex>,
}

impl SourceFile {
    fn ctx(&self) -> FileCtx<'_> {
        FileCtx {
            file: &self.path,
            text: &self.text,
            index: &self.index,
            line_starts: OnceCell::new(),
        }
    }
}

impl SourceMap {
    /// Location of `field` of `device` (or of the device entry itself for `None`).
    pub fn locate(&self, device: &DeviceName, field: Option<&str>) -> Option<Location> {
        let f = &self.files[*self.devices.get(device)?];
        let path = self.device_path(device, field.map(|k| self.written_key(device, k)));
        f.index
            .value_mark(&path)
            .or_else(|| f.index.key_mark(&path))
            .map(|(line, column)| Location {
                file: f.path.clone(),
                line,
                column,
            })
    }

    /// The key the state file uses for `field` of `device`: `dst` where the file says
    /// `dst` for `dst_min` (its other name), otherwise `field`.
    pub fn written_key<'a>(&self, device: &DeviceName, field: &'a str) -> &'a str {
        let wrote = |key: &str| {
            self.devices.get(device).is_some_and(|&f| {
                self.files[f]
                    .index
                    .key_mark(&self.device_path(device, Some(key)))
                    .is_some()
            })
        };
        if field == "dst_min" && !wrote("dst_min") && wrote("dst") {
            "dst"
        } else {
            field
        }
    }

    /// A located problem with `field` of `device` (the device entry itself for `None`),
    /// rendered as `validate` renders its own: `None` when the device is not from these files.
    pub fn device_diagnostic(
        &self,
        device: &DeviceName,
        field: Option<&str>,
        message: String,
        help: Option<String>,
    ) -> Option<Diagnostic> {
        let f = &self.files[*self.devices.get(device)?];
        let path = self.device_path(device, field.map(|k| self.written_key(device, k)));
        Some(f.ctx().diag(&path, field.is_none(), message, help))
    }

    /// A located problem with `thread` of the `threads:` list.
    pub fn thread_diagnostic(
        &self,
        thread: ThreadId,
        message: String,
        help: Option<String>,
    ) -> Option<Diagnostic> {
        let (file, element) = *self.threads.get(&thread)?;
        let mut path = self.prefix.clone();
        path.extend(["threads".to_owned(), element.to_string()]);
        Some(self.files[file].ctx().diag(&path, false, message, help))
    }

    /// A located problem with the receiver on `interface` (at its key in `receivers:`).
    pub fn receiver_diagnostic(
        &self,
        interface: &str,
        message: String,
        help: Option<String>,
    ) -> Option<Diagnostic> {
        let f = &self.files[*self.receivers.get(interface)?];
        let mut path = self.prefix.clone();
        path.extend(["receivers".to_owned(), interface.to_owned()]);
        Some(f.ctx().diag(&path, true, message, help))
    }

    /// A located problem with a namespace itself, for one that cannot be entered: at its
    /// `netns:` value when it has one, else at its name.
    pub fn namespace_diagnostic(
        &self,
        message: String,
        help: Option<String>,
    ) -> Option<Diagnostic> {
        if self.prefix.is_empty() {
            return None;
        }
        let mut netns = self.prefix.clone();
        netns.push("netns".into());
        if let Some(f) = self
            .files
            .iter()
            .find(|f| f.index.value_mark(&netns).is_some())
        {
            return Some(f.ctx().diag(&netns, false, message, help));
        }
        let f = self
            .files
            .iter()
            .find(|f| f.index.key_mark(&self.prefix).is_some())?;
        Some(f.ctx().diag(&self.prefix, true, message, help))
    }

    /// The path of `field` of `device` in the files.
    fn device_path(&self, device: &DeviceName, field: Option<&str>) -> Vec<String> {
        let mut path = self.prefix.clone();
        path.extend(["devices".to_owned(), device.as_str().to_owned()]);
        path.extend(field.map(str::to_owned));
        path
    }

    /// The path prefix of this part of the state: `namespaces.NAME.` for a namespace, empty
    /// for the top level, as diagnostics print it.
    pub fn path_prefix(&self) -> String {
        self.prefix.iter().map(|p| format!("{p}.")).collect()
    }
}

/// One namespace of `namespaces:`: where it is and what it must hold.
#[derive(Debug, Clone)]
pub struct LoadedNamespace {
    /// Its file: `netns:`, or `/run/netns/NAME` (where `ip netns add NAME` puts it).
    pub netns: PathBuf,
    /// The desired state inside it.
    pub desired: DesiredState,
    /// Where its entries came from (paths under `namespaces.NAME`).
    pub sources: SourceMap,
    /// Where streams are received in it (`namespaces.NAME.receivers`).
    pub receivers: Vec<DesiredReceiver>,
}

/// A loaded desired state with its source locations.
#[derive(Debug, Clone)]
pub struct LoadedState {
    /// The desired state of the namespace pgstate runs in (the top-level `devices:`); empty
    /// and not to be applied when [`current`](Self::current) is false.
    pub desired: DesiredState,
    /// Whether the files describe the namespace pgstate runs in: some file has a top-level
    /// `devices:`. A state of only `namespaces:` never touches it.
    pub current: bool,
    /// The other namespaces, by name (`namespaces:`); those not listed are never touched.
    pub namespaces: BTreeMap<NamespaceName, LoadedNamespace>,
    /// Where everything came from.
    pub sources: SourceMap,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// Things that are valid but not everywhere: settings some supported kernels refuse.
    pub notes: Vec<Diagnostic>,
    /// Where streams are received in the namespace pgstate runs in (top-level `receivers:`).
    pub receivers: Vec<DesiredReceiver>,
}

/// Loads a file, or every `*.yaml`/`*.yml` file of a directory (not recursive).
///
/// A file that is too large or not UTF-8 is reported with the problems of the other files,
/// not instead of them.
pub fn load_path(path: &Path) -> Result<LoadedState, LoadError> {
    let files = state_files(path)?;
    let mut texts = Vec::new();
    let mut file_problems = Vec::new();
    for f in &files {
        match read_state_file(f)? {
            Ok(t) => texts.push((f.clone(), t)),
            Err(d) => file_problems.push(d),
        }
    }
    let refs: Vec<(&Path, &str)> = texts
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    match load_texts_all(&refs) {
        Ok(state) if file_problems.is_empty() => Ok(state),
        Ok(_) => Err(finish_diagnostics(file_problems)),
        Err(mut diags) => {
            diags.extend(file_problems);
            Err(finish_diagnostics(diags))
        }
    }
}

/// Like [`load_path`], for a state loaded before as `previous` (`watch`, after an edit): when
/// the one file of `previous` changed in one device's line only, and is of a shape where that
/// line cannot mean anything else, only that line is parsed (`load/edit.rs`); otherwise, and
/// whenever the line has a problem, this is [`load_path`]. The result is the same either way.
pub fn reload_path(path: &Path, previous: &LoadedState) -> Result<LoadedState, LoadError> {
    let files = state_files(path)?;
    if let [file] = files.as_slice() {
        if let Ok(text) = read_state_file(file)? {
            if let Some(loaded) = edit::reload_edited(previous, file, &text) {
                return Ok(loaded);
            }
            return load_texts(&[(file.as_path(), &text)]);
        }
    }
    load_path(path)
}

/// Only the one-line path of [`reload_path`]: `None` where that would read the whole file.
/// For the test that holds the two paths to one result (`tests/reload.rs`).
#[doc(hidden)]
pub fn reload_edited_line(previous: &LoadedState, file: &Path, text: &str) -> Option<LoadedState> {
    edit::reload_edited(previous, file, text)
}

/// Loads state files given as text (`(name, contents)`), merged.
pub fn load_texts(files: &[(&Path, &str)]) -> Result<LoadedState, LoadError> {
    load_texts_all(files).map_err(finish_diagnostics)
}

/// One namespace's part of the state while the files are merged: the top level's, or one
/// of `namespaces:`.
#[derive(Default)]
struct Part {
    desired: DesiredState,
    threads: Option<BTreeSet<ThreadId>>,
    /// Device → file index, as in [`SourceMap`].
    devices: HashMap<DeviceName, usize>,
    thread_sources: HashMap<ThreadId, (usize, usize)>,
    /// `netns:` and the file (index) that first gave it.
    netns: Option<(String, usize)>,
    /// `receivers:` by interface, each with the file (index) that gives it.
    receivers: BTreeMap<String, (ReceiverSpec, usize)>,
}

/// [`load_texts`] with every problem, unsorted and not capped.
fn load_texts_all(files: &[(&Path, &str)]) -> Result<LoadedState, Vec<Diagnostic>> {
    let mut merged = Merged::default();
    for (file, text) in files {
        merged.add_file(file, text);
    }
    merged.finish(files)
}

/// The files read so far, merged: each namespace's [`Part`], the files' sources, and the
/// problems and notes found in them.
#[derive(Default)]
struct Merged {
    diags: Vec<Diagnostic>,
    notes: Vec<Diagnostic>,
    source_files: Vec<SourceFile>,
    /// The top level's part: the namespace pgstate runs in.
    top: Part,
    /// Some file has a top-level `devices:` (see [`LoadedState::current`]).
    current: bool,
    parts: BTreeMap<NamespaceName, Part>,
}

impl Merged {
    /// Scans and parses one file, and merges its top level and its namespaces into their
    /// parts. A file too large to scan is only reported.
    fn add_file(&mut self, file: &Path, text: &str) {
        if text.len() as u64 > MAX_STATE_FILE_BYTES {
            self.diags.push(file_diag(
                file,
                format!(
                    "the file is {} bytes; state files are limited to {MAX_STATE_FILE_BYTES} (8 MiB)",
                    text.len()
                ),
            ));
            return;
        }
        let text_arc: Arc<str> = Arc::from(text);
        let (structure, index) = scan_file(&text_arc);
        let index = Arc::new(index);
        let file_no = self.source_files.len();
        self.source_files.push(SourceFile {
            path: file.to_path_buf(),
            text: text_arc,
            index: Arc::clone(&index),
        });
        let ctx = FileCtx {
            file,
            text,
            index: &index,
            line_starts: OnceCell::new(),
        };
        let mut bad_fields = HashMap::new();
        let Some((parsed, top_devices)) =
            parse_file(&ctx, structure, &mut bad_fields, &mut self.diags)
        else {
            return;
        };
        // A file that names only other namespaces leaves the one pgstate runs in alone.
        self.current |= top_devices;
        let mut here = Merge {
            files: &self.source_files,
            ctx: &ctx,
            file_no,
            bad_fields: &bad_fields,
            diags: &mut self.diags,
            notes: &mut self.notes,
        };
        here.add(&mut self.top, &[], parsed.threads, parsed.devices);
        here.receivers(&mut self.top, &[], parsed.receivers);
        for (name, ns) in parsed.namespaces {
            // parse_file let only valid names through.
            let Ok(name) = NamespaceName::new(&name) else {
                continue;
            };
            let prefix = ["namespaces".to_owned(), name.as_str().to_owned()];
            let part = self.parts.entry(name).or_default();
            if let Some(netns) = ns.netns {
                here.netns(part, &prefix, netns);
            }
            here.add(part, &prefix, ns.threads, ns.devices);
            here.receivers(part, &prefix, ns.receivers);
        }
    }

    /// Checks the rules that only all the files together can break, and gives the merged
    /// state unless some file had a problem.
    fn finish(self, files: &[(&Path, &str)]) -> Result<LoadedState, Vec<Diagnostic>> {
        let Merged {
            mut diags,
            mut notes,
            source_files,
            mut top,
            current,
            parts,
        } = self;
        let sources = source_map(&source_files, &mut top, Vec::new());
        // (A file with neither `devices:` nor `namespaces:` was refused for that already.)
        if top.threads.is_some() && !current && !parts.is_empty() {
            diags.extend(top_threads_without_devices(&top, &sources));
        }
        check_owned_threads(&top, &sources, &mut diags);
        let (top_receivers, mut receivers) =
            resolve_receivers(&top, &parts, &source_files, &mut diags);
        let mut namespaces = finish_namespaces(parts, &source_files, &mut diags);
        for (name, ns) in &mut namespaces {
            ns.receivers = receivers.remove(name).unwrap_or_default();
        }
        if !diags.is_empty() {
            return Err(diags);
        }
        top.desired.threads = top.threads;
        sort_diagnostics(&mut notes);
        Ok(LoadedState {
            desired: top.desired,
            current,
            namespaces,
            sources,
            files: files.iter().map(|(p, _)| p.to_path_buf()).collect(),
            notes,
            receivers: top_receivers,
        })
    }
}

/// How the loader read a document's value ([`read_yaml_value`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct YamlRead {
    /// The value was built from the scan's events (the fast path), not by serde_yaml.
    pub fast: bool,
    /// The value, or the located problems the loader refuses the document for.
    pub value: Result<serde_yaml::Value, Vec<Diagnostic>>,
}

/// The value the loader reads from one document's text, by the very steps [`load_texts`]
/// takes before it looks at the schema (the scan, its refusals, the fast path or
/// serde_yaml), reported as coming from `file`. For the test that holds the loader to
/// serde_yaml on the YAML test suite (`tests/yaml_suite.rs`).
#[doc(hidden)]
pub fn read_yaml_value(file: &Path, text: &str) -> YamlRead {
    let text: Arc<str> = Arc::from(text);
    let (mut structure, index) = scan_file(&text);
    let fast = structure.value.is_some();
    let ctx = FileCtx {
        file,
        text: &text,
        index: &index,
        line_starts: OnceCell::new(),
    };
    let mut diags = Vec::new();
    let value = if structure_refused(&ctx, &structure, &mut diags) {
        Err(diags)
    } else {
        document_value(&ctx, &mut structure).map_err(|d| vec![*d])
    };
    YamlRead { fast, value }
}

/// Scans one file. Most files have no problem: the quick pass parses without positions, and
/// the index is built only when a diagnostic asks. A file the quick pass cannot take is
/// scanned again, indexed.
fn scan_file(text: &Arc<str>) -> (Structure, LocationIndex) {
    let quick = scan(text, Indexing::Off);
    let (
        Scan {
            marks: _,
            limit,
            duplicates,
            syntax_error,
            second_document,
            value,
        },
        index,
    ) = if quick.value.is_some() {
        (quick, LocationIndex::lazy(Arc::clone(text)))
    } else {
        let mut full = scan(text, Indexing::On);
        let marks = std::mem::take(&mut full.marks);
        (full, LocationIndex::built(marks))
    };
    let structure = Structure {
        limit,
        duplicates,
        syntax_error,
        second_document,
        value,
    };
    (structure, index)
}

/// The sources of one part: every file, and the part's devices and threads (taken from it).
fn source_map(files: &[SourceFile], part: &mut Part, prefix: Vec<String>) -> SourceMap {
    SourceMap {
        files: files.to_vec(),
        devices: std::mem::take(&mut part.devices),
        threads: std::mem::take(&mut part.thread_sources),
        receivers: part
            .receivers
            .iter()
            .map(|(interface, (_, file))| (interface.clone(), *file))
            .collect(),
        prefix,
    }
}

/// A top-level `threads:` in files that have no top-level `devices:` (only `namespaces:`)
/// owns threads of a namespace the state never touches: located at its first thread.
fn top_threads_without_devices(top: &Part, sources: &SourceMap) -> Option<Diagnostic> {
    sources.thread_diagnostic(
        top.threads
            .iter()
            .flatten()
            .next()
            .copied()
            .unwrap_or(ThreadId(0)),
        "top-level `threads:` belongs to the top-level `devices:` (the namespace pgstate \
         runs in), which no file has"
            .into(),
        Some("move it into a namespace of `namespaces:`, or add `devices:`".into()),
    )
}

/// Each namespace of `namespaces:` as loaded: its threads checked, its `netns:` file
/// (`/run/netns/NAME` when no file gives one) and its sources.
/// The receivers of the top level and of each namespace, their streams resolved against the
/// devices of the whole state; a stream that names nothing is reported where it is written.
#[allow(clippy::type_complexity)]
fn resolve_receivers(
    top: &Part,
    parts: &BTreeMap<NamespaceName, Part>,
    files: &[SourceFile],
    diags: &mut Vec<Diagnostic>,
) -> (
    Vec<DesiredReceiver>,
    BTreeMap<NamespaceName, Vec<DesiredReceiver>>,
) {
    let mut devices: receivers::StateDevices<'_> = BTreeMap::new();
    devices.insert(None, top.desired.devices.keys().collect());
    for (name, part) in parts {
        devices.insert(Some(name), part.desired.devices.keys().collect());
    }
    let resolve_part = |here: Option<&NamespaceName>, part: &Part, diags: &mut Vec<Diagnostic>| {
        let mut prefix = Vec::new();
        if let Some(n) = here {
            prefix.extend(["namespaces".to_owned(), n.as_str().to_owned()]);
        }
        let mut out = Vec::new();
        for (interface, (spec, file)) in &part.receivers {
            let mut locate = |i: usize, message: String| {
                let mut path = prefix.clone();
                path.extend([
                    "receivers".to_owned(),
                    interface.clone(),
                    "streams".to_owned(),
                    i.to_string(),
                ]);
                files[*file].ctx().diag(&path, false, message, None)
            };
            out.extend(receivers::resolve(
                interface,
                spec,
                here,
                &devices,
                &mut locate,
                diags,
            ));
        }
        out
    };
    let top_receivers = resolve_part(None, top, diags);
    let by_namespace = parts
        .iter()
        .map(|(name, part)| (name.clone(), resolve_part(Some(name), part, diags)))
        .collect();
    (top_receivers, by_namespace)
}

fn finish_namespaces(
    parts: BTreeMap<NamespaceName, Part>,
    source_files: &[SourceFile],
    diags: &mut Vec<Diagnostic>,
) -> BTreeMap<NamespaceName, LoadedNamespace> {
    let mut namespaces = BTreeMap::new();
    for (name, mut part) in parts {
        let sources = source_map(
            source_files,
            &mut part,
            vec!["namespaces".into(), name.as_str().into()],
        );
        check_owned_threads(&part, &sources, diags);
        let netns = match &part.netns {
            Some((file, _)) => PathBuf::from(file),
            None => Path::new("/run/netns").join(name.as_str()),
        };
        part.desired.threads = part.threads;
        namespaces.insert(
            name,
            LoadedNamespace {
                netns,
                desired: part.desired,
                sources,
                receivers: Vec::new(),
            },
        );
    }
    namespaces
}

/// `threads:` may come from another file than the devices, so this rule waits for all.
fn check_owned_threads(part: &Part, sources: &SourceMap, diags: &mut Vec<Diagnostic>) {
    let Some(owned) = &part.threads else { return };
    for (name, dev) in &part.desired.devices {
        if !owned.contains(&dev.thread) {
            diags.extend(sources.device_diagnostic(
                name,
                Some("thread"),
                format!(
                    "thread {} is not one of the threads this state owns (`threads: [{}]`)",
                    dev.thread,
                    list(owned)
                ),
                Some(format!(
                    "add {} to `threads:`, or put the device on one of those threads",
                    dev.thread
                )),
            ));
        }
    }
}

/// Merges one file's `threads:` and `devices:` (of the top level or of a namespace) into
/// its [`Part`].
struct Merge<'a, 'c> {
    /// The files read so far (the current one last), to locate first definitions.
    files: &'a [SourceFile],
    ctx: &'a FileCtx<'c>,
    file_no: usize,
    bad_fields: &'a HashMap<Vec<String>, Vec<String>>,
    diags: &'a mut Vec<Diagnostic>,
    notes: &'a mut Vec<Diagnostic>,
}

impl Merge<'_, '_> {
    /// A part's `receivers:`; an interface that two files give is reported at the second.
    fn receivers(
        &mut self,
        part: &mut Part,
        prefix: &[String],
        receivers: BTreeMap<String, ReceiverSpec>,
    ) {
        for (interface, spec) in receivers {
            if let Some((_, first)) = part.receivers.get(&interface) {
                let mut path = prefix.to_vec();
                path.extend(["receivers".to_owned(), interface.clone()]);
                let first = self.files[*first].path.display().to_string();
                self.diags.push(self.ctx.diag(
                    &path,
                    true,
                    format!("receiver {interface} is also defined in {first}"),
                    None,
                ));
                continue;
            }
            part.receivers.insert(interface, (spec, self.file_no));
        }
    }

    /// `netns:` of a namespace; two files that give it must agree.
    fn netns(&mut self, part: &mut Part, prefix: &[String], file: String) {
        let mut path = prefix.to_vec();
        path.push("netns".into());
        match &part.netns {
            Some((first, _)) if *first == file => {}
            Some((first, at)) => {
                let at = &self.files[*at];
                let at = at
                    .ctx()
                    .locate(&path, false)
                    .map_or_else(|| at.path.display().to_string(), |l| l.to_string());
                self.diags.push(self.ctx.diag(
                    &path,
                    false,
                    format!("another file gives this namespace's `netns:` as {first} (at {at})"),
                    None,
                ));
            }
            None => part.netns = Some((file, self.file_no)),
        }
    }

    fn add(
        &mut self,
        part: &mut Part,
        prefix: &[String],
        threads: Option<Vec<u32>>,
        devices: BTreeMap<String, DeviceSpec>,
    ) {
        let ctx = self.ctx;
        if let Some(t) = threads {
            let owned = part.threads.get_or_insert_with(BTreeSet::new);
            for (element, t) in t.into_iter().enumerate() {
                owned.insert(ThreadId(t));
                part.thread_sources
                    .entry(ThreadId(t))
                    .or_insert((self.file_no, element));
            }
        }
        for (raw_name, spec) in devices {
            let mut path = prefix.to_vec();
            path.extend(["devices".to_owned(), raw_name.clone()]);
            let name = match DeviceName::new(&raw_name) {
                Ok(n) => n,
                Err(e) => {
                    self.diags.push(ctx.diag(
                        &path,
                        true,
                        format!("'{raw_name}' is not a valid pktgen device name: {e}"),
                        None,
                    ));
                    continue;
                }
            };
            // The first definition is located only now that it is needed (a file without
            // problems is never indexed).
            if let Some(&first_file) = part.devices.get(&name) {
                let first_file = &self.files[first_file];
                let first = first_file
                    .ctx()
                    .locate(&path, true)
                    .map_or_else(|| first_file.path.display().to_string(), |l| l.to_string());
                self.diags.push(ctx.diag(
                    &path,
                    true,
                    format!("device {name} is defined twice; first definition at {first}"),
                    None,
                ));
                continue;
            }
            // Keys already reported as unknown or of the wrong type were left out of `spec`;
            // rules that mention them would only repeat the problem, or be wrong.
            let bad = self.bad_fields.get(&path).map_or(&[][..], Vec::as_slice);
            let mentions_bad = |e: &FieldError| e.keys().any(|k| bad.iter().any(|b| b == k));
            match validate_device(&spec) {
                Ok(dev) if bad.is_empty() => {
                    for note in kernel_notes(&dev) {
                        let mut p = path.clone();
                        p.push(note.field);
                        self.notes
                            .push(ctx.diag(&p, false, note.message, note.help));
                    }
                    part.desired.devices.insert(name.clone(), dev);
                }
                Ok(_) => {}
                Err(errors) => {
                    for FieldError {
                        field,
                        message,
                        help,
                        ..
                    } in errors.into_iter().filter(|e| !mentions_bad(e))
                    {
                        let mut p = path.clone();
                        // `imix_weights[2]` → key `imix_weights`, element 2.
                        match field.split_once('[') {
                            Some((k, rest)) => {
                                p.push(k.to_owned());
                                p.push(rest.trim_end_matches(']').to_owned());
                            }
                            None => p.push(field),
                        }
                        self.diags.push(ctx.diag(&p, false, message, help));
                    }
                }
            }
            part.devices.insert(name, self.file_no);
        }
    }
}

fn list(threads: &BTreeSet<ThreadId>) -> String {
    threads
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
