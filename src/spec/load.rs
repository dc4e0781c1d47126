//! Loads state files: one YAML file, or a directory of `*.yaml`/`*.yml` merged. Every
//! problem becomes a [`Diagnostic`] with file, line, column and field path, and all problems
//! of all files are reported together.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::schema::{DeviceSpec, StateFile, DEVICE_KEYS};
use super::validate::{validate_device, FieldError};
use crate::error::{did_you_mean, Diagnostic, Location};
use crate::kernel::KernelProfile;
use crate::model::{DesiredState, DeviceName, ThreadId};

/// State files larger than this are refused before parsing.
pub const MAX_STATE_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Loading the desired state failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {error}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The files are readable but wrong.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
}

fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    if diags.len() > 1 {
        out.push_str(&format!("\n{} problems found", diags.len()));
    }
    out
}

/// Where each key of the loaded files is, to locate later errors (for example a write the
/// kernel refused) in the source.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    devices: HashMap<DeviceName, (PathBuf, LocationIndex)>,
}

impl SourceMap {
    /// Location of `field` of `device` (or of the device entry itself for `None`).
    pub fn locate(&self, device: &DeviceName, field: Option<&str>) -> Option<Location> {
        let (file, index) = self.devices.get(device)?;
        let mut path = vec!["devices".to_owned(), device.as_str().to_owned()];
        if let Some(f) = field {
            path.push(f.to_owned());
        }
        index
            .value_mark(&path)
            .or_else(|| index.key_mark(&path))
            .map(|(line, column)| Location {
                file: file.clone(),
                line,
                column,
            })
    }
}

/// A loaded desired state with its source locations.
#[derive(Debug, Clone)]
pub struct LoadedState {
    /// The desired state.
    pub desired: DesiredState,
    /// Where everything came from.
    pub sources: SourceMap,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

/// Loads a file, or every `*.yaml`/`*.yml` file of a directory (not recursive).
pub fn load_path(path: &Path) -> Result<LoadedState, LoadError> {
    let io = |error| LoadError::Io {
        path: path.to_owned(),
        error,
    };
    let meta = fs::metadata(path).map_err(io)?;
    let files = if meta.is_dir() {
        let mut files: Vec<PathBuf> = fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "yaml" || e == "yml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(LoadError::Invalid(vec![Diagnostic {
                location: None,
                file: path.to_owned(),
                path: String::new(),
                message: "the directory has no *.yaml or *.yml state files".into(),
                source_line: None,
                help: None,
            }]));
        }
        files
    } else {
        vec![path.to_owned()]
    };
    let mut texts = Vec::new();
    for f in &files {
        let size = fs::metadata(f)
            .map_err(|error| LoadError::Io {
                path: f.clone(),
                error,
            })?
            .len();
        if size > MAX_STATE_FILE_BYTES {
            return Err(LoadError::Invalid(vec![file_diag(
                f,
                format!(
                    "the file is {size} bytes; state files are limited to {MAX_STATE_FILE_BYTES}"
                ),
            )]));
        }
        let bytes = fs::read(f).map_err(|error| LoadError::Io {
            path: f.clone(),
            error,
        })?;
        match String::from_utf8(bytes) {
            Ok(t) => texts.push((f.clone(), t)),
            Err(e) => {
                return Err(LoadError::Invalid(vec![file_diag(
                    f,
                    format!(
                        "the file is not UTF-8 (invalid byte at offset {})",
                        e.utf8_error().valid_up_to()
                    ),
                )]))
            }
        }
    }
    let refs: Vec<(&Path, &str)> = texts
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    load_texts(&refs)
}

fn file_diag(file: &Path, message: String) -> Diagnostic {
    Diagnostic {
        location: None,
        file: file.to_owned(),
        path: String::new(),
        message,
        source_line: None,
        help: None,
    }
}

/// Loads state files given as text (`(name, contents)`), merged.
pub fn load_texts(files: &[(&Path, &str)]) -> Result<LoadedState, LoadError> {
    let mut diags = Vec::new();
    let mut desired = DesiredState::default();
    let mut sources = SourceMap::default();
    let mut threads: Option<BTreeSet<ThreadId>> = None;
    let mut origin: BTreeMap<DeviceName, (PathBuf, Option<Location>)> = BTreeMap::new();
    for (file, text) in files {
        let index = LocationIndex::build(text);
        let ctx = FileCtx {
            file,
            text,
            index: &index,
        };
        let Some(parsed) = parse_file(&ctx, &mut diags) else {
            continue;
        };
        if let Some(t) = parsed.threads {
            threads
                .get_or_insert_with(BTreeSet::new)
                .extend(t.into_iter().map(ThreadId));
        }
        for (raw_name, spec) in parsed.devices {
            let path = vec!["devices".to_owned(), raw_name.clone()];
            let name = match DeviceName::new(&raw_name) {
                Ok(n) => n,
                Err(e) => {
                    diags.push(ctx.diag(
                        &path,
                        true,
                        format!("'{raw_name}' is not a valid pktgen device name: {e}"),
                        None,
                    ));
                    continue;
                }
            };
            let here = ctx.locate(&path, true);
            if let Some((first_file, first_loc)) = origin.get(&name) {
                let first = first_loc
                    .as_ref()
                    .map_or_else(|| first_file.display().to_string(), ToString::to_string);
                diags.push(ctx.diag(
                    &path,
                    true,
                    format!("device {name} is defined twice; first definition at {first}"),
                    None,
                ));
                continue;
            }
            origin.insert(name.clone(), (file.to_path_buf(), here));
            match validate_device(&spec, &KernelProfile::default()) {
                Ok(dev) => {
                    desired.devices.insert(name.clone(), dev);
                }
                Err(errors) => {
                    for FieldError {
                        field,
                        message,
                        help,
                    } in errors
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
                        diags.push(ctx.diag(&p, false, message, help));
                    }
                }
            }
            sources
                .devices
                .insert(name, (file.to_path_buf(), index.clone()));
        }
    }
    if !diags.is_empty() {
        diags.sort_by_key(|d| {
            (
                d.file.clone(),
                d.location.as_ref().map(|l| (l.line, l.column)),
            )
        });
        return Err(LoadError::Invalid(diags));
    }
    desired.threads = threads;
    Ok(LoadedState {
        desired,
        sources,
        files: files.iter().map(|(p, _)| p.to_path_buf()).collect(),
    })
}

struct FileCtx<'a> {
    file: &'a Path,
    text: &'a str,
    index: &'a LocationIndex,
}

impl FileCtx<'_> {
    fn locate(&self, path: &[String], key: bool) -> Option<Location> {
        let mark = if key {
            self.index
                .key_mark(path)
                .or_else(|| self.index.value_mark(path))
        } else {
            self.index
                .value_mark(path)
                .or_else(|| self.index.key_mark(path))
        };
        // Fall back to the closest ancestor that has a position.
        let mark = mark.or_else(|| {
            (1..path.len())
                .rev()
                .find_map(|n| self.index.key_mark(&path[..n]))
        });
        mark.map(|(line, column)| Location {
            file: self.file.to_owned(),
            line,
            column,
        })
    }

    fn diag(
        &self,
        path: &[String],
        key: bool,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        self.diag_at(self.locate(path, key), render_path(path), message, help)
    }

    fn diag_at(
        &self,
        location: Option<Location>,
        path: String,
        message: String,
        help: Option<String>,
    ) -> Diagnostic {
        let source_line = location
            .as_ref()
            .and_then(|l| self.text.lines().nth(l.line.saturating_sub(1)))
            .map(str::to_owned);
        Diagnostic {
            location,
            file: self.file.to_owned(),
            path,
            message,
            source_line,
            help,
        }
    }
}

fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg.bytes().all(|b| b.is_ascii_digit()) && !out.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Parses one file into its schema. Structural problems become diagnostics; device entries
/// are deserialised one by one so that every bad entry is reported, not just the first.
fn parse_file(ctx: &FileCtx<'_>, diags: &mut Vec<Diagnostic>) -> Option<StateFile> {
    if ctx.text.trim().is_empty()
        || ctx
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        diags.push(file_diag(
            ctx.file,
            "the file is empty; a state that removes every device is written `devices: {}`".into(),
        ));
        return None;
    }
    let value: serde_yaml::Value = match serde_yaml::from_str(ctx.text) {
        Ok(v) => v,
        Err(e) => {
            let location = e.location().map(|l| Location {
                file: ctx.file.to_owned(),
                line: l.line(),
                column: l.column(),
            });
            let message = strip_location(&e.to_string());
            diags.push(ctx.diag_at(location, String::new(), message, tab_help(ctx.text)));
            return None;
        }
    };
    let serde_yaml::Value::Mapping(top) = value else {
        diags.push(ctx.diag_at(
            None,
            String::new(),
            "the top level must be a mapping with a `devices:` key".into(),
            None,
        ));
        return None;
    };
    let mut out = StateFile::default();
    let mut saw_devices = false;
    for (k, v) in top {
        let key = k.as_str().unwrap_or_default().to_owned();
        let path = vec![key.clone()];
        match key.as_str() {
            "threads" => match serde_path_to_error::deserialize::<_, Vec<u32>>(v) {
                Ok(t) => out.threads = Some(t),
                Err(e) => diags.push(ctx.diag(
                    &path,
                    false,
                    format!("expected a list of thread (CPU) numbers: {}", e.inner()),
                    None,
                )),
            },
            "devices" => {
                saw_devices = true;
                match v {
                    serde_yaml::Value::Mapping(devs) => {
                        for (name, body) in devs {
                            let Some(name) = name
                                .as_str()
                                .map(str::to_owned)
                                .or_else(|| name.as_u64().map(|n| n.to_string()))
                            else {
                                diags.push(ctx.diag(
                                    &path,
                                    true,
                                    "device names must be strings".into(),
                                    None,
                                ));
                                continue;
                            };
                            let dpath = vec!["devices".to_owned(), name.clone()];
                            match serde_path_to_error::deserialize::<_, DeviceSpec>(body) {
                                Ok(spec) => {
                                    out.devices.insert(name, spec);
                                }
                                Err(e) => diags.push(device_serde_error(ctx, &dpath, &e)),
                            }
                        }
                    }
                    serde_yaml::Value::Null => {}
                    _ => diags.push(ctx.diag(
                        &path,
                        false,
                        "`devices` must be a mapping of device name to settings".into(),
                        None,
                    )),
                }
            }
            other => diags.push(ctx.diag(
                &path,
                true,
                format!("unknown top-level key `{other}` (expected `devices` or `threads`)"),
                did_you_mean(other, ["devices", "threads"]),
            )),
        }
    }
    if !saw_devices {
        diags.push(file_diag(
            ctx.file,
            "no `devices:` key; a state that removes every device is written `devices: {}`".into(),
        ));
    }
    Some(out)
}

fn device_serde_error(
    ctx: &FileCtx<'_>,
    dpath: &[String],
    e: &serde_path_to_error::Error<serde_yaml::Error>,
) -> Diagnostic {
    let message = strip_location(&e.inner().to_string());
    let mut path = dpath.to_vec();
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => path.push(index.to_string()),
            serde_path_to_error::Segment::Map { key } => path.push(key.clone()),
            serde_path_to_error::Segment::Enum { variant } => path.push(variant.clone()),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    // serde names an unknown key only in its message: "unknown field `cont`, expected …".
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, _)) = rest.split_once('`') {
            if path.last().map(String::as_str) != Some(field) {
                path.push(field.to_owned());
            }
            let help = did_you_mean(field, DEVICE_KEYS.iter().copied());
            return ctx.diag(&path, true, format!("unknown key `{field}`"), help);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ctx.diag(&path, true, format!("missing required key `{field}`"), None);
    }
    // pktgen's num_arg reads digits only: `count abc` would silently become `count 0`.
    let message =
        if message.starts_with("invalid type: string") && message.ends_with("expected u64") {
            format!("{message} (the kernel would silently read it as 0)")
        } else {
            message
        };
    ctx.diag(&path, false, message, None)
}

/// serde_yaml appends " at line L column C" to messages; the diagnostic prints it already.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn tab_help(text: &str) -> Option<String> {
    text.lines()
        .any(|l| l.starts_with('\t') || l.trim_start_matches(' ').starts_with('\t'))
        .then(|| "YAML does not allow tabs for indentation; use spaces".to_owned())
}

/// Positions of the keys and values of a YAML document, by path. Built with yaml-rust2's
/// marked events because serde_yaml's values carry no positions.
#[derive(Debug, Clone, Default)]
pub struct LocationIndex {
    keys: HashMap<Vec<String>, (usize, usize)>,
    values: HashMap<Vec<String>, (usize, usize)>,
}

impl LocationIndex {
    /// Indexes `text`; a document that does not parse gives a partial or empty index.
    pub fn build(text: &str) -> LocationIndex {
        let mut b = IndexBuilder::default();
        let mut parser = Parser::new_from_str(text);
        // Errors are reported by serde_yaml; a partial index is still useful.
        let _ = parser.load(&mut b, false);
        b.index
    }

    /// Line and column of the key at `path`.
    pub fn key_mark(&self, path: &[String]) -> Option<(usize, usize)> {
        self.keys.get(path).copied()
    }

    /// Line and column of the value at `path`.
    pub fn value_mark(&self, path: &[String]) -> Option<(usize, usize)> {
        self.values.get(path).copied()
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { next: usize },
}

#[derive(Default)]
struct IndexBuilder {
    index: LocationIndex,
    stack: Vec<Frame>,
    path: Vec<String>,
}

impl IndexBuilder {
    fn pos(mark: Marker) -> (usize, usize) {
        // yaml-rust2 lines are 1-based and columns 0-based.
        (mark.line(), mark.col() + 1)
    }

    /// Called when a value (scalar or collection start) begins; returns the path it has.
    fn begin_value(&mut self, mark: Marker) -> Option<Vec<String>> {
        let seg = match self.stack.last_mut()? {
            Frame::Map { key } => key.clone()?,
            Frame::Seq { next } => {
                let s = next.to_string();
                *next += 1;
                s
            }
        };
        let mut p = self.path.clone();
        p.push(seg);
        self.index
            .values
            .entry(p.clone())
            .or_insert(Self::pos(mark));
        Some(p)
    }

    fn end_value(&mut self) {
        if let Some(Frame::Map { key }) = self.stack.last_mut() {
            *key = None;
        }
    }
}

impl MarkedEventReceiver for IndexBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { key: key @ None }) = self.stack.last_mut() {
                    *key = Some(value.clone());
                    let mut p = self.path.clone();
                    p.push(value);
                    self.index.keys.entry(p).or_insert(Self::pos(mark));
                } else {
                    self.begin_value(mark);
                    self.end_value();
                }
            }
            Event::Alias(_) => {
                self.begin_value(mark);
                self.end_value();
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if let Some(p) = self.begin_value(mark) {
                    self.path = p;
                }
                self.stack.push(if matches!(ev, Event::MappingStart(..)) {
                    Frame::Map { key: None }
                } else {
                    Frame::Seq { next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                if !self.stack.is_empty() {
                    self.path.pop();
                }
                self.end_value();
            }
            _ => {}
        }
    }
}
