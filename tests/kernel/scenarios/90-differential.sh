# shellcheck shell=sh
# Differential check, simulator vs this kernel: re-records the simulator's reference
# transcript live (tests/kernel/transcript.sh: the cases and writes of the shared
# linux-6.12.txt, in a fresh network namespace) and prints it between the markers
#   @@TRANSCRIPT BEGIN
#   @@TRANSCRIPT END lines=N
# lab.sh saves it as target/kernel-lab/transcripts/<kernel-release>.txt and replays it
# through the simulator on the host (tests/sim_transcripts.rs): the entry
# `differential`. This scenario only fails when the recording itself failed.
PLAN=/lab/transcript-plan.txt
[ -r "$PLAN" ] || fail "$PLAN missing (lab.sh copies the shared linux-6.12.txt there)"
t0=$(date +%s)
unshare -n sh /lab/transcript.sh "$PLAN" >/tmp/transcript.txt ||
  fail "transcript.sh failed (rc=$?)"
echo "-- recorded in $(($(date +%s) - t0))s"
echo "@@TRANSCRIPT BEGIN"
cat /tmp/transcript.txt
echo "@@TRANSCRIPT END lines=$(wc -l </tmp/transcript.txt)"
