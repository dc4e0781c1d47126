//! Loads state files: one YAML file, or a directory of `*.yaml`/`*.yml` merged. Every
//! problem becomes a [`Diagnostic`] with file, line, column and field path, and all problems
//! of all files are reported together.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

use super::schema::{DeviceSpec, StateFile, DEVICE_KEYS};
use super::validate::{kernel_notes, validate_device, FieldError};
use crate::error::{did_you_mean, Diagnostic, Location};
use crate::model::{DesiredState, DeviceName, ThreadId};

/// State files larger than this are refused before parsing.
pub const MAX_STATE_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Source lines longer than this (in characters) are shown cut, or not at all when the
/// caret would fall past the cut; a one-line 8 MiB file must not print 8 MiB per problem.
const MAX_SNIPPET_CHARS: usize = 160;
/// Messages and help texts echo values from the file; they are cut at this many characters.
const MAX_MESSAGE_CHARS: usize = 1000;
/// Field paths contain device names from the file; they are cut at this many characters.
const MAX_PATH_CHARS: usize = 200;

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

/// At most this many problems are reported at once; a generated file with a problem on every
/// line would otherwise print gigabytes. The last diagnostic then says how many were left out.
pub const MAX_DIAGNOSTICS: usize = 200;

/// The end of the message of the note that replaces the problems past [`MAX_DIAGNOSTICS`].
const TRUNCATION_NOTE: &str = "are not shown";

fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diags.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    let truncated = diags
        .last()
        .is_some_and(|d| d.location.is_none() && d.message.contains(TRUNCATION_NOTE));
    if diags.len() > 1 && !truncated {
        out.push_str(&format!("\n{} problems found", diags.len()));
    }
    out
}

/// Sorts the problems by file and position and keeps the first [`MAX_DIAGNOSTICS`].
fn finish_diagnostics(mut diags: Vec<Diagnostic>) -> LoadError {
    sort_diagnostics(&mut diags);
    if diags.len() > MAX_DIAGNOSTICS {
        let total = diags.len();
        diags.truncate(MAX_DIAGNOSTICS);
        let file = diags.last().map(|d| d.file.clone()).unwrap_or_default();
        diags.push(file_diag(
            &file,
            format!(
                "{} more problems {TRUNCATION_NOTE}: {total} problems found, the first {MAX_DIAGNOSTICS} are listed",
                total - MAX_DIAGNOSTICS
            ),
        ));
    }
    LoadError::Invalid(diags)
}

/// Where each key of the loaded files is, to locate later errors (for example a write the
/// kernel refused) in the source.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    // One index per file, shared by its devices: cloning it per device made loading a file
    // of N devices take O(N²) time and memory (5000 devices: 75 s and 24 GB).
    devices: HashMap<DeviceName, (PathBuf, Arc<LocationIndex>)>,
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
    /// Things that are valid but not everywhere: settings some supported kernels refuse.
    pub notes: Vec<Diagnostic>,
}

/// Loads a file, or every `*.yaml`/`*.yml` file of a directory (not recursive).
///
/// A file that is too large or not UTF-8 is reported with the problems of the other files,
/// not instead of them.
pub fn load_path(path: &Path) -> Result<LoadedState, LoadError> {
    let io = |error| LoadError::Io {
        path: path.to_owned(),
        error,
    };
    let meta = fs::metadata(path).map_err(io)?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        let mut ignored = Vec::new();
        for entry in fs::read_dir(path).map_err(io)?.filter_map(Result::ok) {
            let p = entry.path();
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if p.extension().is_some_and(|e| e == "yaml" || e == "yml") && !hidden {
                files.push(p);
            } else {
                ignored.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        files.sort();
        if files.is_empty() {
            ignored.sort();
            let help = (!ignored.is_empty()).then(|| {
                let shown: Vec<&str> = ignored.iter().take(5).map(String::as_str).collect();
                let more = ignored.len().saturating_sub(shown.len());
                format!(
                    "only files named *.yaml or *.yml (not starting with '.') are read; ignored: {}{}",
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                )
            });
            let mut d = file_diag(
                path,
                "the directory has no *.yaml or *.yml state files".into(),
            );
            d.help = help.map(|h| clip(&h, MAX_MESSAGE_CHARS));
            return Err(LoadError::Invalid(vec![d]));
        }
        files
    } else {
        vec![path.to_owned()]
    };
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

/// Reads one state file: its text, or a diagnostic if it is too large or not UTF-8.
fn read_state_file(f: &Path) -> Result<Result<String, Diagnostic>, LoadError> {
    let io = |error| LoadError::Io {
        path: f.to_owned(),
        error,
    };
    let too_large = |size: String| {
        file_diag(
            f,
            format!(
                "the file is {size} bytes; state files are limited to {MAX_STATE_FILE_BYTES} (8 MiB)"
            ),
        )
    };
    let size = fs::metadata(f).map_err(io)?.len();
    if size > MAX_STATE_FILE_BYTES {
        return Ok(Err(too_large(size.to_string())));
    }
    // The size of a pipe or character device (`/dev/stdin`, `/dev/zero`) reads as 0: bound
    // the read itself too.
    let mut bytes = Vec::new();
    fs::File::open(f)
        .map_err(io)?
        .take(MAX_STATE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_STATE_FILE_BYTES {
        return Ok(Err(too_large(format!("more than {MAX_STATE_FILE_BYTES}"))));
    }
    match String::from_utf8(bytes) {
        Ok(t) => Ok(Ok(t)),
        Err(e) => Ok(Err(not_utf8_diag(
            f,
            e.as_bytes(),
            e.utf8_error().valid_up_to(),
        ))),
    }
}

/// Locates the first invalid byte of a file that is not UTF-8 like any other problem.
fn not_utf8_diag(file: &Path, bytes: &[u8], valid: usize) -> Diagnostic {
    let prefix = &bytes[..valid];
    let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = prefix
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // `prefix` is valid UTF-8, so the column counts characters as everywhere else.
    let column = std::str::from_utf8(&prefix[line_start..]).map_or(1, |s| s.chars().count() + 1);
    let line_end = bytes[valid..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| valid + i);
    // Each invalid sequence becomes one U+FFFD, so the caret still lands on it.
    let text = String::from_utf8_lossy(&bytes[line_start..line_end]);
    Diagnostic {
        location: Some(Location {
            file: file.to_owned(),
            line,
            column,
        }),
        file: file.to_owned(),
        path: String::new(),
        message: format!(
            "the file is not UTF-8: byte 0x{:02x} at offset {valid} is not part of a UTF-8 character",
            bytes.get(valid).copied().unwrap_or_default()
        ),
        source_line: snippet(text.trim_end_matches('\r'), column),
        help: Some("state files must be UTF-8 text".into()),
    }
}

fn file_diag(file: &Path, message: String) -> Diagnostic {
    Diagnostic {
        location: None,
        file: file.to_owned(),
        path: String::new(),
        message: clip(&message, MAX_MESSAGE_CHARS),
        source_line: None,
        help: None,
    }
}

/// Escapes control characters (a value such as `"eth0\ncount 5"` must not start a new
/// line, or a terminal escape sequence, in the output) and cuts `s` to `max` characters.
fn clip(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The source line to show under a diagnostic: control characters replaced one for one (so
/// the caret stays aligned), cut when long, and left out when the caret would be past the cut.
fn snippet(line: &str, column: usize) -> Option<String> {
    let mut out = String::new();
    for (n, c) in line.chars().enumerate() {
        if n == MAX_SNIPPET_CHARS {
            if column + 10 > MAX_SNIPPET_CHARS {
                return None;
            }
            out.push_str(" …");
            return Some(out);
        }
        out.push(if c.is_control() && c != '\t' {
            '\u{fffd}'
        } else {
            c
        });
    }
    Some(out)
}

fn sort_diagnostics(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.location.as_ref().map(|l| (l.line, l.column)))
            .cmp(&(&b.file, b.location.as_ref().map(|l| (l.line, l.column))))
    });
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
    let mut origin: BTreeMap<DeviceName, (PathBuf, Option<Location>)> = BTreeMap::new();
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
        let Scan {
            index,
            limit,
            duplicates,
            syntax_error,
        } = scan(text);
        let index = Arc::new(index);
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
        };
        let mut bad_fields = HashMap::new();
        let Some(parsed) = parse_file(&ctx, &structure, &mut bad_fields, &mut diags) else {
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
            sources
                .devices
                .insert(name, (file.to_path_buf(), Arc::clone(&index)));
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

struct FileCtx<'a> {
    file: &'a Path,
    text: &'a str,
    index: &'a LocationIndex,
    /// Byte offset of each line, built at the first diagnostic: looking lines up with
    /// `lines().nth()` made a file with many problems quadratic.
    line_starts: OnceCell<Vec<usize>>,
}

/// What the event pass found about a file's structure (see [`Scan`]).
struct Structure {
    limit: Option<((usize, usize), String)>,
    duplicates: Vec<Duplicate>,
    syntax_error: Option<((usize, usize), String)>,
}

impl FileCtx<'_> {
    /// Line `n` (1-based) of the text, without its line break.
    fn line(&self, n: usize) -> Option<&str> {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .filter(|&i| i < self.text.len())
                .collect()
        });
        let idx = n.checked_sub(1)?;
        let start = *starts.get(idx)?;
        let end = starts.get(idx + 1).map_or(self.text.len(), |&s| s - 1);
        let line = &self.text[start..end];
        let line = line.strip_suffix('\n').unwrap_or(line);
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    fn at(&self, (line, column): (usize, usize)) -> Option<Location> {
        Some(Location {
            file: self.file.to_owned(),
            line,
            column,
        })
    }

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
            .and_then(|l| snippet(self.line(l.line)?, l.column));
        Diagnostic {
            location,
            file: self.file.to_owned(),
            path: clip(&path, MAX_PATH_CHARS),
            message: clip(&message, MAX_MESSAGE_CHARS),
            source_line,
            help: help.map(|h| clip(&h, MAX_MESSAGE_CHARS)),
        }
    }
}

fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        // `devices.<name>` is always a name, even an empty or all-digit one.
        let device_name = i == 1 && path[0] == "devices";
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) && i > 0 && !device_name {
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
fn parse_file(
    ctx: &FileCtx<'_>,
    structure: &Structure,
    bad_fields: &mut HashMap<String, Vec<String>>,
    diags: &mut Vec<Diagnostic>,
) -> Option<StateFile> {
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
    // Nesting and alias limits: serde_yaml must not see such a document at all.
    if let Some((pos, message)) = &structure.limit {
        diags.push(ctx.diag_at(ctx.at(*pos), String::new(), message.clone(), None));
        return None;
    }
    // serde_yaml stops at the first duplicate and points at the enclosing mapping; the event
    // pass knows every duplicate and both of its positions.
    if !structure.duplicates.is_empty() {
        for (path, first, second) in &structure.duplicates {
            let first = format!("{}:{}:{}", ctx.file.display(), first.0, first.1);
            let message = match path.as_slice() {
                [top, name] if top == "devices" => format!(
                    "device {name} is defined twice in this file; the first definition is at {first}"
                ),
                [.., key] => format!("`{key}` is given twice; the first is at {first}"),
                [] => continue,
            };
            diags.push(ctx.diag_at(ctx.at(*second), render_path(path), message, None));
        }
        return None;
    }
    // serde_yaml only ever sees a document that the bounded event pass read to the end: past
    // a point yaml-rust2 cannot read, nothing was checked, and libyaml (behind serde_yaml)
    // buffers every event first (8 MiB of `[` took 20 s and 1.3 GB there).
    if let Some((pos, message)) = &structure.syntax_error {
        diags.push(ctx.diag_at(
            ctx.at(*pos),
            String::new(),
            message.clone(),
            tab_help(ctx.text),
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
            let message = plain_words(&strip_location(&e.to_string()));
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
                Err(e) => {
                    // Point at the offending element when there is one.
                    let mut p = path.clone();
                    p.extend(e.path().iter().filter_map(|seg| match seg {
                        serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                        _ => None,
                    }));
                    diags.push(ctx.diag(
                        &p,
                        false,
                        format!(
                            "expected a list of thread (CPU) numbers: {}",
                            plain_words(&strip_location(&e.inner().to_string()))
                        ),
                        None,
                    ));
                }
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
                                // `true:` or `1.5:` are indexed under their text.
                                let mut p = path.clone();
                                if let Ok(text) = serde_yaml::to_string(&name) {
                                    p.push(text.trim_end().to_owned());
                                }
                                diags.push(ctx.diag(
                                    &p,
                                    true,
                                    "device names must be strings".into(),
                                    None,
                                ));
                                continue;
                            };
                            let dpath = vec!["devices".to_owned(), name.clone()];
                            let (body, bad) = check_device_fields(ctx, &dpath, body, diags);
                            match serde_path_to_error::deserialize::<_, DeviceSpec>(body) {
                                Ok(spec) => {
                                    out.devices.insert(name.clone(), spec);
                                }
                                Err(e) => diags.push(device_serde_error(ctx, &dpath, &e)),
                            }
                            if !bad.is_empty() {
                                bad_fields.insert(name, bad);
                            }
                        }
                    }
                    // `devices:` with nothing under it (say, every device commented out) would
                    // remove every device; that must be written explicitly, as for empty files.
                    serde_yaml::Value::Null => diags.push(ctx.diag(
                        &path,
                        true,
                        "`devices` is empty; a state that removes every device is written `devices: {}`".into(),
                        None,
                    )),
                    _ => diags.push(ctx.diag(
                        &path,
                        false,
                        "`devices` must be a mapping of device name to settings".into(),
                        None,
                    )),
                }
            }
            // `show --json` marks its document with its format version; reading that output
            // back as a state must work, and must not accept a format it does not know.
            "format_version" if v.as_u64() == Some(1) => {}
            "format_version" => diags.push(ctx.diag(
                &path,
                false,
                "unknown format_version; this pgstate reads format_version 1".into(),
                None,
            )),
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

/// Checks each key of a device entry on its own, so that every unknown key and every value
/// of the wrong type is reported, not only the first one serde meets. Returns the entry
/// without its bad keys (with a stand-in `thread` if it had none, so that the remaining
/// values are still range-checked) and the names of the bad keys.
fn check_device_fields(
    ctx: &FileCtx<'_>,
    dpath: &[String],
    body: serde_yaml::Value,
    diags: &mut Vec<Diagnostic>,
) -> (serde_yaml::Value, Vec<String>) {
    let serde_yaml::Value::Mapping(map) = body else {
        return (body, Vec::new());
    };
    let thread_key = serde_yaml::Value::String("thread".into());
    let mut clean = serde_yaml::Mapping::new();
    let mut bad = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str().map(str::to_owned) else {
            let text = serde_yaml::to_string(&k).unwrap_or_default();
            let mut p = dpath.to_vec();
            p.push(text.trim_end().to_owned());
            diags.push(ctx.diag(&p, true, "setting names must be strings".into(), None));
            bad.push(text.trim_end().to_owned());
            continue;
        };
        let mut p = dpath.to_vec();
        p.push(key.clone());
        if !DEVICE_KEYS.contains(&key.as_str()) {
            let help = did_you_mean(&key, DEVICE_KEYS.iter().copied());
            diags.push(ctx.diag(&p, true, format!("unknown key `{key}`"), help));
            bad.push(key);
            continue;
        }
        let mut one = serde_yaml::Mapping::new();
        if key != "thread" {
            one.insert(thread_key.clone(), serde_yaml::Value::Number(0.into()));
        }
        one.insert(k.clone(), v.clone());
        if let Err(e) =
            serde_path_to_error::deserialize::<_, DeviceSpec>(serde_yaml::Value::Mapping(one))
        {
            diags.push(device_serde_error(ctx, dpath, &e));
            bad.push(key);
            continue;
        }
        clean.insert(k, v);
    }
    if !clean.contains_key(&thread_key) && !bad.iter().any(|b| b == "thread") {
        diags.push(ctx.diag(dpath, true, "missing required key `thread`".into(), None));
        bad.push("thread".into());
    }
    if !bad.is_empty() && !clean.contains_key(&thread_key) {
        clean.insert(thread_key, serde_yaml::Value::Number(0.into()));
    }
    (serde_yaml::Value::Mapping(clean), bad)
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
    let silently_zero =
        message.starts_with("invalid type: string") && message.ends_with("expected u64");
    let message = plain_words(&message);
    let message = if silently_zero {
        format!("{message} (the kernel would silently read it as 0)")
    } else {
        message
    };
    ctx.diag(&path, false, message, None)
}

/// serde's messages in the user's words: "invalid value: integer `-1`, expected u64" names a
/// Rust type; this says "expected a whole number (0 or more), found -1".
fn plain_words(message: &str) -> String {
    let Some((what, expected)) = message.rsplit_once(", expected ") else {
        return message.to_owned();
    };
    // serde_yaml puts the field path first: "devices.eth0.count: invalid type: ...".
    let start = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|p| what.find(p))
        .unwrap_or(0);
    let (prefix, what) = what.split_at(start);
    // serde_yaml reads integers past 64 bits as u128, which nothing in a state file takes.
    if expected == "any YAML value" {
        if let Some(n) = what
            .strip_prefix("invalid type: integer `")
            .and_then(|r| r.strip_suffix("` as u128"))
        {
            return format!("{prefix}the number {n} is too large for any setting");
        }
        return message.to_owned();
    }
    let expected = match expected {
        "u64" => "a whole number (0 or more)",
        "u32" => "a whole number from 0 to 4294967295",
        "u16" => "a whole number from 0 to 65535",
        "u8" => "a whole number from 0 to 255",
        "a sequence" => "a list",
        "a map" | "struct DeviceSpec" => "a mapping of settings",
        "a string" => "text",
        "a boolean" => "true or false",
        _ => return message.to_owned(),
    };
    let found = what
        .strip_prefix("invalid type: ")
        .or_else(|| what.strip_prefix("invalid value: "))
        .unwrap_or(what);
    let found = if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = ["integer `", "floating point `", "boolean `"]
        .iter()
        .find_map(|p| found.strip_prefix(p))
    {
        n.trim_end_matches('`').to_owned()
    } else {
        match found {
            "sequence" => "a list".to_owned(),
            "map" => "a mapping".to_owned(),
            "unit value" => "nothing (null)".to_owned(),
            other => other.to_owned(),
        }
    };
    format!("{prefix}expected {expected}, found {found}")
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

/// Deepest nesting a state file may have. A valid file nests five levels (top mapping →
/// `devices` → device → key → list element → `[size, weight]`); anything deeper is refused
/// by the event pass below, before serde_yaml sees the text, and that pass is iterative, so
/// no input can exhaust the stack (yaml-rust2's own `Parser::load` recurses per level).
pub const MAX_NESTING_DEPTH: usize = 32;

/// Most nodes that YAML aliases may add by expansion. Anchors are fine for sharing settings
/// between devices, but a "billion laughs" document expands a few KiB into gigabytes.
/// serde_yaml's own guard counts alias jumps, not the nodes they expand to, so one wide
/// anchor referenced many times gets through it; this limit is checked before expanding.
pub const MAX_ALIAS_EXPANSION: u64 = 100_000;

/// Most YAML nodes (scalars, mappings, sequences, aliases) a state file may have. A state
/// with ten thousand fully configured devices fits; serde_yaml buffers every event and builds
/// a value per node, so an 8 MiB file of tiny nodes (4 million `a,`) otherwise took 30 s and
/// several GB.
pub const MAX_YAML_NODES: u64 = 250_000;

/// Sequence elements past this index get no position of their own (a diagnostic points at
/// the sequence instead), so a file that is one huge list keeps a small index.
const MAX_INDEXED_SEQ_ELEMENTS: usize = 256;

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
        scan(text).index
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

/// A line and a column, both 1-based.
type Pos = (usize, usize);

/// A key given twice in one mapping: its path, the first position and the second.
type Duplicate = (Vec<String>, Pos, Pos);

/// What the event pass over one document found.
#[derive(Debug, Default)]
struct Scan {
    index: LocationIndex,
    /// A structural limit that was hit (nesting, alias expansion); the pass stopped there.
    limit: Option<((usize, usize), String)>,
    /// Keys given twice in one mapping: path, first position, second position.
    duplicates: Vec<Duplicate>,
    /// yaml-rust2 could not parse the text here.
    syntax_error: Option<((usize, usize), String)>,
}

/// Runs the event pass: positions, duplicate keys, nesting depth and alias expansion.
fn scan(text: &str) -> Scan {
    let mut b = IndexBuilder::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            // Only the first document is read; serde_yaml refuses more than one.
            Ok((Event::StreamEnd | Event::DocumentEnd, _)) => break,
            Ok((ev, mark)) => {
                if !b.on_event(ev, mark) {
                    break;
                }
            }
            Err(e) => {
                let pos = IndexBuilder::pos(*e.marker());
                // yaml-rust2's scanner gives up at 255 open flow collections (`[[[…`), ahead
                // of the events that would reach MAX_NESTING_DEPTH.
                if e.info() == "recursion limit exceeded" {
                    b.scan.limit = Some((pos, nesting_message()));
                } else {
                    b.scan.syntax_error = Some((pos, e.info().to_owned()));
                }
                break;
            }
        }
    }
    b.scan
}

fn nesting_message() -> String {
    format!("the YAML nests deeper than {MAX_NESTING_DEPTH} levels; a state file needs at most 5")
}

enum Kind {
    /// `key` is the scalar key whose value comes next (`None` for a complex or alias key);
    /// `skip_value` is set when that key is a duplicate, so its value is not indexed twice.
    Map {
        key: Option<String>,
        expect_key: bool,
        skip_value: bool,
    },
    Seq {
        next: usize,
    },
}

/// An open mapping or sequence.
struct Open {
    kind: Kind,
    /// Its path, when it is indexed.
    path: Option<Vec<String>>,
    /// It is a (complex) mapping key rather than a value.
    is_key: bool,
    /// Its anchor id (0: none) and the node count when it started, to size the anchor.
    anchor: usize,
    nodes_before: u64,
}

#[derive(Default)]
struct IndexBuilder {
    scan: Scan,
    stack: Vec<Open>,
    /// Nodes seen so far, aliases counted at their expanded size.
    nodes: u64,
    /// Nodes added by alias expansion.
    expanded: u64,
    /// Nodes as written (aliases count one).
    written: u64,
    /// Expanded size of each anchored node.
    anchor_sizes: HashMap<usize, u64>,
}

impl IndexBuilder {
    fn pos(mark: Marker) -> (usize, usize) {
        // yaml-rust2 lines are 1-based and columns 0-based.
        (mark.line(), mark.col() + 1)
    }

    /// Where the next node goes: whether it is a mapping key, and its path if it is an
    /// indexed value.
    fn next_slot(&mut self) -> (bool, Option<Vec<String>>) {
        let Some(open) = self.stack.last_mut() else {
            return (false, Some(Vec::new()));
        };
        let child = |seg: &str| {
            open.path.as_ref().map(|p| {
                let mut p = p.clone();
                p.push(seg.to_owned());
                p
            })
        };
        match &mut open.kind {
            Kind::Map {
                expect_key: true, ..
            } => (true, None),
            Kind::Map {
                key, skip_value, ..
            } => match (key.as_deref(), *skip_value) {
                (Some(k), false) => (false, child(k)),
                _ => (false, None),
            },
            Kind::Seq { next } => {
                let i = *next;
                *next += 1;
                if i < MAX_INDEXED_SEQ_ELEMENTS {
                    (false, child(&i.to_string()))
                } else {
                    (false, None)
                }
            }
        }
    }

    /// A key of the innermost mapping is complete.
    fn key_done(&mut self, key: Option<String>, duplicate: bool) {
        if let Some(Open {
            kind:
                Kind::Map {
                    key: k,
                    expect_key,
                    skip_value,
                },
            ..
        }) = self.stack.last_mut()
        {
            *k = key;
            *expect_key = false;
            *skip_value = duplicate;
        }
    }

    /// A value of the innermost collection is complete.
    fn value_done(&mut self) {
        if let Some(Open {
            kind:
                Kind::Map {
                    key,
                    expect_key,
                    skip_value,
                },
            ..
        }) = self.stack.last_mut()
        {
            *key = None;
            *expect_key = true;
            *skip_value = false;
        }
    }

    fn record_value(&mut self, path: Option<Vec<String>>, mark: Marker) {
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            self.scan.index.values.entry(p).or_insert(Self::pos(mark));
        }
    }

    /// Handles one event; false stops the pass (a limit was hit).
    fn on_event(&mut self, ev: Event, mark: Marker) -> bool {
        if matches!(
            ev,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        ) {
            self.written += 1;
            if self.written > MAX_YAML_NODES {
                self.scan.limit = Some((
                    Self::pos(mark),
                    format!(
                        "the file has more than {MAX_YAML_NODES} YAML nodes (keys, values and \
                         list items); state files are limited to that"
                    ),
                ));
                return false;
            }
        }
        match ev {
            Event::Scalar(value, _, anchor, _) => {
                self.nodes = self.nodes.saturating_add(1);
                if anchor != 0 {
                    self.anchor_sizes.insert(anchor, 1);
                }
                let (is_key, path) = self.next_slot();
                if is_key {
                    let parent = self.stack.last().and_then(|o| o.path.as_ref());
                    let mut duplicate = false;
                    if let Some(parent) = parent {
                        let mut p = parent.clone();
                        p.push(value.clone());
                        match self.scan.index.keys.entry(p) {
                            std::collections::hash_map::Entry::Occupied(e) => {
                                let first = *e.get();
                                self.scan.duplicates.push((
                                    e.key().clone(),
                                    first,
                                    Self::pos(mark),
                                ));
                                duplicate = true;
                            }
                            std::collections::hash_map::Entry::Vacant(e) => {
                                e.insert(Self::pos(mark));
                            }
                        }
                    }
                    self.key_done(Some(value), duplicate);
                } else {
                    self.record_value(path, mark);
                    self.value_done();
                }
            }
            Event::Alias(id) => {
                let size = self.anchor_sizes.get(&id).copied().unwrap_or(1);
                self.nodes = self.nodes.saturating_add(size);
                self.expanded = self.expanded.saturating_add(size);
                if self.expanded > MAX_ALIAS_EXPANSION {
                    self.scan.limit = Some((
                        Self::pos(mark),
                        format!(
                            "YAML aliases expand to more than {MAX_ALIAS_EXPANSION} nodes \
                             (an alias bomb?); refused before expanding them"
                        ),
                    ));
                    return false;
                }
                let (is_key, path) = self.next_slot();
                if is_key {
                    self.key_done(None, false);
                } else {
                    self.record_value(path, mark);
                    self.value_done();
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_NESTING_DEPTH {
                    self.scan.limit = Some((Self::pos(mark), nesting_message()));
                    return false;
                }
                let (is_key, path) = self.next_slot();
                if !is_key {
                    self.record_value(path.clone(), mark);
                }
                let kind = if matches!(ev, Event::MappingStart(..)) {
                    Kind::Map {
                        key: None,
                        expect_key: true,
                        skip_value: false,
                    }
                } else {
                    Kind::Seq { next: 0 }
                };
                self.stack.push(Open {
                    kind,
                    // The content of a complex key is not indexed.
                    path: if is_key { None } else { path },
                    is_key,
                    anchor,
                    nodes_before: self.nodes,
                });
                self.nodes = self.nodes.saturating_add(1);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(open) = self.stack.pop() {
                    if open.anchor != 0 {
                        self.anchor_sizes
                            .insert(open.anchor, self.nodes.saturating_sub(open.nodes_before));
                    }
                    if open.is_key {
                        self.key_done(None, false);
                    } else {
                        self.value_done();
                    }
                }
            }
            _ => {}
        }
        true
    }
}

#[cfg(test)]
mod plain_words_tests {
    use super::plain_words;

    #[test]
    fn serde_messages_name_no_rust_types() {
        assert_eq!(
            plain_words("invalid value: integer `-1`, expected u64"),
            "expected a whole number (0 or more), found -1"
        );
        assert_eq!(
            plain_words("invalid type: string \"abc\", expected u64"),
            "expected a whole number (0 or more), found the string \"abc\""
        );
        assert_eq!(
            plain_words("invalid type: floating point `1.5`, expected u32"),
            "expected a whole number from 0 to 4294967295, found 1.5"
        );
        assert_eq!(
            plain_words("invalid type: string \"UDPCSUM\", expected a sequence"),
            "expected a list, found the string \"UDPCSUM\""
        );
        assert_eq!(plain_words("unknown variant `x`"), "unknown variant `x`");
        assert_eq!(
            plain_words(
                "invalid type: integer `99999999999999999999999` as u128, expected any YAML value"
            ),
            "the number 99999999999999999999999 is too large for any setting"
        );
    }
}
