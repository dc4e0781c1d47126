# shellcheck shell=sh
# Every transition between two examples ends exactly where applying the target on an empty
# box does: the configuration part of every device file is byte-identical. This catches any
# state the kernel keeps hidden (the other address family, VLAN priorities while the tag is
# off, a label stack...) that a plan could leave behind.

configs() {
  for f in "$PG"/*; do
    case ${f##*/} in pgctrl | kpktgend_*) continue ;; esac
    echo "== ${f##*/}"
    sed '/^Current:/,$d' "$f"
  done
  for f in "$PG"/kpktgend_*; do
    echo "== ${f##*/}"
    grep -E '^(Running|Stopped):' "$f"
  done
}

pairs=0
for b in "$STATES"/*.yaml; do
  # examples this kernel cannot run (see 10-examples) take part in no transition
  single_namespace_example "$b" || continue
  example_supported "$b" || { note "skipping ${b##*/} on $(uname -r)"; continue; }
  pg_reset || fail "reset failed"
  "$PGSTATE" -q apply "$b" || fail "fresh apply of $b"
  want=$(configs)
  for a in "$STATES"/*.yaml; do
    [ "$a" = "$b" ] && continue
    single_namespace_example "$a" || continue
    example_supported "$a" || continue
    pg_reset || fail "reset failed"
    "$PGSTATE" -q apply "$a" || fail "apply of $a"
    out=$("$PGSTATE" -q apply "$b" 2>&1) || fail "${a##*/} -> ${b##*/}: $out"
    got=$(configs)
    if [ "$got" != "$want" ]; then
      echo "---- want (fresh ${b##*/})"
      echo "$want"
      echo "---- got (${a##*/} -> ${b##*/})"
      echo "$got"
      fail "${a##*/} -> ${b##*/} differs from a fresh apply"
    fi
    pairs=$((pairs + 1))
  done
done
note "$pairs transitions identical to a fresh apply"

note "an unset src_min goes back to empty (= the interface address), not 0.0.0.0"
printf 'devices:\n  eth0: {thread: 0, src_min: 198.18.1.1, src_max: 198.18.1.9}\n' >/tmp/src.yaml
expect_rc 0 "$PGSTATE" apply /tmp/src.yaml
printf 'devices:\n  eth0: {thread: 0}\n' >/tmp/nosrc.yaml
expect_rc 0 "$PGSTATE" apply -v /tmp/nosrc.yaml
assert_file_contains eth0 '^     src_min:   src_max: $'
