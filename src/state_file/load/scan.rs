//! The located YAML scan: one bounded, iterative pass over yaml-rust2's marked events that
//! indexes the position of every key and value ([`LocationIndex`]), finds duplicate keys,
//! and refuses too deep nesting, too many nodes and alias bombs before serde_yaml sees the
//! text. No I/O.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::fast_path::{needs_serde_yaml, FlowProbe};
use super::value::ValueBuilder;

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
///
/// A file without problems needs no positions, so a loaded file's index is built from its
/// text at the first question ([`LocationIndex::lazy`]): indexing every node cost as much as
/// parsing it (callgrind, 256-device plan), and only diagnostics read the index.
#[derive(Debug, Clone, Default)]
pub struct LocationIndex {
    source: Option<Arc<str>>,
    marks: OnceLock<Marks>,
}

/// A path is stored flat, each segment behind a NUL (`"\0devices\0eth0\0count"`): one string
/// per node instead of a vector of strings. A key that itself contains a NUL can only make a
/// diagnostic point elsewhere.
#[derive(Debug, Clone, Default)]
pub(super) struct Marks {
    keys: HashMap<String, (usize, usize)>,
    values: HashMap<String, (usize, usize)>,
}

impl LocationIndex {
    /// Indexes `text`; a document that does not parse gives a partial or empty index.
    pub fn build(text: &str) -> LocationIndex {
        LocationIndex::built(scan(text, Indexing::On).marks)
    }

    /// An index of `text` that is built when it is first asked.
    pub(super) fn lazy(text: Arc<str>) -> LocationIndex {
        LocationIndex {
            source: Some(text),
            marks: OnceLock::new(),
        }
    }

    pub(super) fn built(marks: Marks) -> LocationIndex {
        LocationIndex {
            source: None,
            marks: OnceLock::from(marks),
        }
    }

    fn marks(&self) -> &Marks {
        self.marks.get_or_init(|| match &self.source {
            Some(text) => scan(text, Indexing::On).marks,
            None => Marks::default(),
        })
    }

    /// Line and column of the key at `path`.
    pub fn key_mark(&self, path: &[String]) -> Option<(usize, usize)> {
        self.marks().keys.get(&flat_path(path)).copied()
    }

    /// Line and column of the value at `path`.
    pub fn value_mark(&self, path: &[String]) -> Option<(usize, usize)> {
        self.marks().values.get(&flat_path(path)).copied()
    }
}

/// Whether the pass records positions (and so finds duplicate keys by their text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexing {
    On,
    /// Positions are left for later; a duplicate key still stops the value (it gives up), so
    /// the caller scans again with positions to report it.
    Off,
}

fn flat_path(path: &[String]) -> String {
    let mut flat = String::with_capacity(path.iter().map(|s| s.len() + 1).sum());
    for seg in path {
        push_segment(&mut flat, seg);
    }
    flat
}

fn push_segment(flat: &mut String, seg: &str) {
    flat.push('\0');
    flat.push_str(seg);
}

fn child_path(parent: &str, seg: &str) -> String {
    let mut p = String::with_capacity(parent.len() + seg.len() + 1);
    p.push_str(parent);
    push_segment(&mut p, seg);
    p
}

fn split_path(flat: &str) -> Vec<String> {
    flat.split('\0').skip(1).map(str::to_owned).collect()
}

/// A line and a column, both 1-based.
type Pos = (usize, usize);

/// A key given twice in one mapping: its path, the first position and the second.
pub(super) type Duplicate = (Vec<String>, Pos, Pos);

/// What the event pass over one document found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub(super) marks: Marks,
    /// A structural limit that was hit (nesting, alias expansion); the pass stopped there.
    pub(super) limit: Option<((usize, usize), String)>,
    /// Keys given twice in one mapping: path, first position, second position.
    pub(super) duplicates: Vec<Duplicate>,
    /// yaml-rust2 could not parse the text here.
    pub(super) syntax_error: Option<((usize, usize), String)>,
    /// Where a second document starts (serde_yaml refuses it without saying where).
    pub(super) second_document: Option<(usize, usize)>,
    /// The document's value, built in the same pass; `None` where serde_yaml must build it
    /// (see `value`), and after a problem above.
    pub(super) value: Option<serde_yaml::Value>,
}

/// Runs the event pass: positions, duplicate keys, nesting depth and alias expansion.
pub(super) fn scan(text: &str, indexing: Indexing) -> Scan {
    let mut b = IndexBuilder {
        indexing,
        ..IndexBuilder::default()
    };
    let mut parser = Parser::new_from_str(text);
    let mut probe = FlowProbe::new(text);
    let mut ended = false;
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            // Only the first document is read; serde_yaml refuses more than one, in its words.
            Ok((Event::DocumentEnd, _)) => {
                match parser.peek() {
                    Ok((Event::StreamEnd, _)) => {}
                    next => {
                        b.scan.second_document = next.ok().map(|(_, m)| IndexBuilder::pos(*m));
                        b.value.give_up();
                    }
                }
                ended = true;
                break;
            }
            Ok((ev, mark)) => {
                let flow = matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..))
                    && probe.opens_flow(mark.index());
                if !b.on_event(ev, mark, flow) {
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
    let clean = b.scan.limit.is_none() && b.scan.syntax_error.is_none();
    if ended && clean && b.scan.duplicates.is_empty() {
        let (anchored, block_scalars) = (b.value.anchored, b.value.block_scalars);
        b.scan.value = b
            .value
            .finish()
            .filter(|_| !needs_serde_yaml(text, anchored, block_scalars));
    }
    b.scan
}

fn nesting_message() -> String {
    format!("the YAML nests deeper than {MAX_NESTING_DEPTH} levels; a state file needs at most 5")
}

enum Kind {
    /// `key` is the flat path of the scalar key whose value comes next (`None` for a complex
    /// or alias key, or an unindexed mapping); `skip_value` is set when that key is a
    /// duplicate, so its value is not indexed twice.
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
    /// Its flat path, when it is indexed.
    path: Option<String>,
    /// It is a (complex) mapping key rather than a value.
    is_key: bool,
    /// Its anchor id (0: none) and the node count when it started, to size the anchor.
    anchor: usize,
    nodes_before: u64,
}

struct IndexBuilder {
    scan: Scan,
    indexing: Indexing,
    value: ValueBuilder,
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

impl Default for IndexBuilder {
    fn default() -> Self {
        IndexBuilder {
            scan: Scan::default(),
            indexing: Indexing::On,
            value: ValueBuilder::default(),
            stack: Vec::new(),
            nodes: 0,
            expanded: 0,
            written: 0,
            anchor_sizes: HashMap::new(),
        }
    }
}

impl IndexBuilder {
    fn pos(mark: Marker) -> (usize, usize) {
        // yaml-rust2 lines are 1-based and columns 0-based.
        (mark.line(), mark.col() + 1)
    }

    /// Where the next node goes: whether it is a mapping key, and its flat path if it is an
    /// indexed value.
    fn next_slot(&mut self) -> (bool, Option<String>) {
        let Some(open) = self.stack.last_mut() else {
            return (false, (self.indexing == Indexing::On).then(String::new));
        };
        let parent = open.path.as_deref();
        match &mut open.kind {
            Kind::Map {
                expect_key: true, ..
            } => (true, None),
            // A value's path is its key's.
            Kind::Map {
                key, skip_value, ..
            } => match (key.take(), *skip_value) {
                (Some(k), false) => (false, Some(k)),
                _ => (false, None),
            },
            Kind::Seq { next } => {
                let i = *next;
                *next += 1;
                if i < MAX_INDEXED_SEQ_ELEMENTS {
                    (false, parent.map(|p| child_path(p, &i.to_string())))
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

    fn record_value(&mut self, path: Option<String>, mark: Marker) {
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            self.scan.marks.values.entry(p).or_insert(Self::pos(mark));
        }
    }

    /// Records the position of a scalar key and returns its flat path; `None` when its
    /// mapping is not indexed, or already has the key (a duplicate, recorded as such).
    fn record_key(&mut self, key: &str, mark: Marker) -> Option<String> {
        let parent = self.stack.last().and_then(|o| o.path.as_deref())?;
        let path = child_path(parent, key);
        match self.scan.marks.keys.entry(path.clone()) {
            Entry::Occupied(e) => {
                let first = *e.get();
                self.scan
                    .duplicates
                    .push((split_path(e.key()), first, Self::pos(mark)));
                None
            }
            Entry::Vacant(e) => {
                e.insert(Self::pos(mark));
                Some(path)
            }
        }
    }

    /// Handles one event (`flow`: a collection that starts with `{` or `[`); false stops the
    /// pass (a limit was hit).
    fn on_event(&mut self, ev: Event, mark: Marker, flow: bool) -> bool {
        if matches!(
            ev,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        ) && !self.count_written(mark)
        {
            return false;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.on_scalar(text, style, anchor, tag.is_some(), mark);
                true
            }
            Event::Alias(id) => self.on_alias(id, mark),
            Event::MappingStart(anchor, tag) => {
                self.on_start(true, anchor, tag.is_some(), flow, mark)
            }
            Event::SequenceStart(anchor, tag) => {
                self.on_start(false, anchor, tag.is_some(), flow, mark)
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.on_end(mark);
                true
            }
            _ => true,
        }
    }

    /// Counts a node as written (an alias counts one); false when that is one past
    /// [`MAX_YAML_NODES`], which is recorded as the limit hit at `mark`.
    fn count_written(&mut self, mark: Marker) -> bool {
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
        true
    }

    /// A scalar: a key of the innermost mapping (checked for a duplicate) or a value, indexed
    /// where its collection is, and handed to the value builder.
    fn on_scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tagged: bool,
        mark: Marker,
    ) {
        self.nodes = self.nodes.saturating_add(1);
        if anchor != 0 {
            self.anchor_sizes.insert(anchor, 1);
        }
        let (is_key, path) = self.next_slot();
        if is_key {
            let before = self.scan.duplicates.len();
            let path = self.record_key(&text, mark);
            let duplicate = self.scan.duplicates.len() > before;
            self.key_done(path, duplicate);
        } else {
            self.record_value(path, mark);
            self.value_done();
        }
        self.value.scalar(text, style, anchor, tagged);
    }

    /// An alias: counted at the size of its anchor's node, which must keep the expansion
    /// within [`MAX_ALIAS_EXPANSION`]; false (the limit recorded) when it does not.
    fn on_alias(&mut self, id: usize, mark: Marker) -> bool {
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
        self.value.alias(id);
        true
    }

    /// A mapping (`mapping`) or sequence starts: opened within [`MAX_NESTING_DEPTH`], its
    /// position indexed when it is a value; false (the limit recorded) past that depth.
    fn on_start(
        &mut self,
        mapping: bool,
        anchor: usize,
        tagged: bool,
        flow: bool,
        mark: Marker,
    ) -> bool {
        if self.stack.len() >= MAX_NESTING_DEPTH {
            self.scan.limit = Some((Self::pos(mark), nesting_message()));
            return false;
        }
        self.value
            .start(mapping, anchor, tagged, flow.then(|| mark.line()));
        let (is_key, path) = self.next_slot();
        if !is_key {
            self.record_value(path.clone(), mark);
        }
        let kind = if mapping {
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
        true
    }

    /// A mapping or sequence ends: its anchor (if any) gets its expanded size, and it
    /// completes the key or value of its parent.
    fn on_end(&mut self, mark: Marker) {
        self.value.end(mark.line());
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
}
