//! Where the value built from yaml-rust2's events (`value`) cannot be trusted to be
//! serde_yaml's, seen in the text: the document is then handed to serde_yaml, which reads
//! it (or refuses it) in its own words. yaml-rust2 follows YAML 1.2 more closely than libyaml
//! (behind serde_yaml) does, so the two read some documents differently, or one refuses what
//! the other reads; each check names the YAML test suite cases where they part
//! (`tests/yaml_suite.rs` runs them all). A check that fires on a document where the two
//! agree only costs that document the fast path. No I/O.

/// Whether serde_yaml could read `text` otherwise than yaml-rust2, by what its text shows;
/// `anchored` and `block_scalars` say what the builder saw (anchors or aliases, literal or
/// folded scalars), so that the checks for them run only when they can matter.
pub(super) fn needs_serde_yaml(text: &str, anchored: bool, block_scalars: bool) -> bool {
    let bytes = text.as_bytes();
    // Directives: libyaml refuses the ones it does not know and YAML versions past 1.2
    // (2LFX, 6LVF, MUS6/05, BEC7); yaml-rust2 skips them.
    let directive = bytes.first() == Some(&b'%') || text.contains("\n%");
    // Tabs: libyaml refuses them in indentation and before some tokens where YAML 1.2
    // allows them as separation (6BCT, A2M4, DK95, Y79Y, R4YG, 96NN).
    // `?`: explicit keys and plain scalars starting with `?` are read differently
    // ("?foo" against "foo", 652Z; ["?x"] against [{x: null}], HM87/01; 6M2F, M2N8/00).
    let tab_or_question = bytes.iter().any(|&b| b == b'\t' || b == b'?');
    directive
        || tab_or_question
        || (anchored && odd_anchor_names(text))
        // A block scalar ending the text without a line break: libyaml chomps its last
        // lines otherwise ("x\n " against "x\n \n", L24T/01; "" against "\n", JEF9/02).
        || (block_scalars && !text.ends_with('\n'))
}

/// Whether some `&name` or `*name` has a character libyaml does not take in an anchor name
/// (it takes ASCII letters, digits, `-` and `_`; YAML 1.2 any but spaces and flow
/// indicators: 8XYN, W5VH, 2SXE, Y2GN). A `&` or `*` inside a scalar or comment can only
/// cost the fast path.
fn odd_anchor_names(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        (b == b'&' || b == b'*')
            && bytes[i + 1..]
                .iter()
                .take_while(|c| {
                    !matches!(
                        c,
                        b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'
                    )
                })
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')))
    })
}

/// Tells the mappings and sequences that start with `{` or `[` (flow collections) from the
/// block ones, by the character at an event's mark.
pub(super) struct FlowProbe<'a> {
    text: &'a str,
    ascii: bool,
    /// A character index and its byte offset, moved forward as the marks advance.
    chars: usize,
    bytes: usize,
}

impl<'a> FlowProbe<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        FlowProbe {
            text,
            ascii: text.is_ascii(),
            chars: 0,
            bytes: 0,
        }
    }

    /// Whether the collection whose start event is marked at `index` is a flow one.
    pub(super) fn opens_flow(&mut self, index: usize) -> bool {
        let opens = |i: usize| matches!(self.text.as_bytes().get(i), Some(b'{' | b'['));
        if self.ascii || opens(index) {
            return opens(index);
        }
        // yaml-rust2 documents its marker index both as characters and as bytes: either
        // one that is a `{` or `[` counts (taking a block collection for a flow one only
        // costs the fast path).
        if index < self.chars {
            (self.chars, self.bytes) = (0, 0);
        }
        for c in self.text[self.bytes..].chars() {
            if self.chars == index {
                break;
            }
            self.chars += 1;
            self.bytes += c.len_utf8();
        }
        self.chars == index && opens(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_names_libyaml_takes_are_not_odd() {
        assert!(!odd_anchor_names(
            "a: &base {x: 1}\nb: *base\nc: [*base, *b-2_c]\n"
        ));
        assert!(odd_anchor_names("a: &an:chor value\n"));
        assert!(odd_anchor_names("- &😁 unicode anchor\n"));
    }

    #[test]
    fn flow_collections_are_told_from_block_ones_in_any_text() {
        let text = "é: {a: [1]}\n";
        let mut probe = FlowProbe::new(text);
        // As characters: `{` is the 4th, `[` the 8th; as bytes, one later each.
        assert!(probe.opens_flow(3) || probe.opens_flow(4));
        assert!(probe.opens_flow(8) || probe.opens_flow(9));
        assert!(!FlowProbe::new(text).opens_flow(0));
    }
}
