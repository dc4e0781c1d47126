//! Loads state files: one YAML file, or a directory of `*.yaml`/`*.yml` merged. Every
//! problem becomes a [`Diagnostic`] with file, line, column and field path, and all problems
//! of all files are reported together.
//!
//! This file holds the entry points ([`load_path`], [`load_texts`]) and the merge of several
//! files into one desired state, validation included. The parts: `io` (reading files and
//! directories with limits), `scan` (the located yaml-rust2 scan and [`LocationIndex`]),
//! `document` (one file's text to its schema), `diagnostics` ([`LoadError`] and how
//! problems are located, cut and capped).

mod diagnostics;
mod document;
mod io;
mod scan;
mod value;

use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::validate::{kernel_notes, validate_device, FieldError};
use crate::error::{Diagnostic, Location};
use crate::model::{DesiredState, DeviceName, ThreadId};

use diagnostics::{file_diag, finish_diagnostics, sort_diagnostics, FileCtx};
use document::{parse_file, Structure};
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
        let path = device_path(device, field.map(|k| self.written_key(device, k)));
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
                    .key_mark(&device_path(device, Some(key)))
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
        let path = device_path(device, field.map(|k| self.written_key(device, k)));
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
        let path = ["threads".to_owned(), element.to_string()];
        Some(self.files[file].ctx().diag(&path, false, message, help))
    }
}

fn device_path(device: &DeviceName, field: Option<&str>) -> Vec<String> {
    let mut path = vec!["devices".to_owned(), device.as_str().to_owned()];
    path.extend(field.map(str::to_owned));
    path
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
    /// Things that are valid but not everywhere: settings some supported kernels refuse.
    pub notes: Vec<Diagnostic>,
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

/// Loads state files given as text (`(name, contents)`), merged.
pub fn load_texts(files: &[(&Path, &str)]) -> Result<LoadedState, LoadError> {
    load_texts_all(files).map_err(finish_diagnostics)
}

/// [`load_texts`] with every problem, unsorted and not capped.
fn load_texts_all(files: &[(&Path, &str)]) -> Result<LoadedState, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut notes = Vec::new();
    let mut desired = DesiredState::default();
    let mut sources = SourceMap::default();
    let mut threads: Option<BTreeSet<ThreadId>> = None;
    for (file, text) in files {
        if text.len() as u64 > MAX_STATE_FILE_BYTES {
            diags.push(file_diag(
                file,
                format!(
                    "the file is {} bytes; state files are limited to {MAX_STATE_FILE_BYTES} (8 MiB)",
                    text.len()
                ),
            ));
            continue;
        }
        let text_arc: Arc<str> = Arc::from(*text);
        // Most files have no problem: parse without positions, and index only when a
        // diagnostic asks. A file the quick pass cannot take is scanned again, indexed.
        let quick = scan(text, Indexing::Off);
        let (
            Scan {
                marks: _,
                limit,
                duplicates,
                syntax_error,
                value,
            },
            index,
        ) = if quick.value.is_some() {
            (quick, LocationIndex::lazy(Arc::clone(&text_arc)))
        } else {
            let mut full = scan(text, Indexing::On);
            let marks = std::mem::take(&mut full.marks);
            (full, LocationIndex::built(marks))
        };
        let index = Arc::new(index);
        let file_no = sources.files.len();
        sources.files.push(SourceFile {
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
        let structure = Structure {
            limit,
            duplicates,
            syntax_error,
            value,
        };
        let mut bad_fields = HashMap::new();
        let Some(parsed) = parse_file(&ctx, structure, &mut bad_fields, &mut diags) else {
            continue;
        };
        if let Some(t) = parsed.threads {
            let owned = threads.get_or_insert_with(BTreeSet::new);
            for (element, t) in t.into_iter().enumerate() {
                owned.insert(ThreadId(t));
                sources
                    .threads
                    .entry(ThreadId(t))
                    .or_insert((file_no, element));
            }
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
            if let Some(&first_file) = sources.devices.get(&name) {
                let first_file = &sources.files[first_file];
                let first = first_file
                    .ctx()
                    .locate(&path, true)
                    .map_or_else(|| first_file.path.display().to_string(), |l| l.to_string());
                diags.push(ctx.diag(
                    &path,
                    true,
                    format!("device {name} is defined twice; first definition at {first}"),
                    None,
                ));
                continue;
            }
            // Keys already reported as unknown or of the wrong type were left out of `spec`;
            // rules that mention them would only repeat the problem, or be wrong.
            let bad = bad_fields.get(&raw_name).map_or(&[][..], Vec::as_slice);
            let mentions_bad = |e: &FieldError| e.keys().any(|k| bad.iter().any(|b| b == k));
            match validate_device(&spec) {
                Ok(dev) if bad.is_empty() => {
                    for note in kernel_notes(&dev) {
                        let mut p = path.clone();
                        p.push(note.field);
                        notes.push(ctx.diag(&p, false, note.message, note.help));
                    }
                    desired.devices.insert(name.clone(), dev);
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
                        diags.push(ctx.diag(&p, false, message, help));
                    }
                }
            }
            sources.devices.insert(name, file_no);
        }
    }
    // `threads:` may come from another file than the devices, so this rule waits for all.
    if let Some(owned) = &threads {
        for (name, dev) in &desired.devices {
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
    if !diags.is_empty() {
        return Err(diags);
    }
    desired.threads = threads;
    sort_diagnostics(&mut notes);
    Ok(LoadedState {
        desired,
        sources,
        files: files.iter().map(|(p, _)| p.to_path_buf()).collect(),
        notes,
    })
}

fn list(threads: &BTreeSet<ThreadId>) -> String {
    threads
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
