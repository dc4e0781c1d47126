#!/usr/bin/python3
# -*- coding: utf-8 -*-
# pgstate's Ansible module: keeps pktgen on each host as a state file says.
# SPDX-License-Identifier: MIT OR Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pgstate
short_description: Converge the Linux kernel packet generator (pktgen) with pgstate
description:
  - Puts a pgstate state file on the host and converges C(/proc/net/pktgen) to it with
    C(pgstate apply --json); the task is C(changed) when pgstate wrote to pktgen (its
    C(summary.writes)) or the state file's content changed.
  - The new state is planned and applied from a hidden temporary file next to O(path) and
    moved over O(path) only after a successful apply, so an invalid state or a refused value
    leaves both the box (pgstate rolls back) and O(path) as they were. Errors fail the task
    with pgstate's own message, located as C(path:line:column) in O(path).
  - In check mode the module runs C(pgstate plan --json) (the planning code that apply
    runs), reports the changes, and writes nothing, neither to pktgen nor to O(path).
  - In diff mode it shows the state file's change and the plan (one line per device action,
    one per field change, and the exact writes).
  - The path can be a file inside the directory that C(pgstate-watch) watches
    (C(/etc/pgstate)); the hidden temporary file is ignored by pgstate, and pgstate's box
    lock keeps the module's apply and the watch's from interleaving.
requirements:
  - pgstate on the host (the Debian package, or C(pgstate) in C(PATH)), run as root.
options:
  path:
    description: Where the state file is kept on the host.
    type: path
    default: /etc/pgstate/pgstate.yaml
  content:
    description: The state as YAML text (for example from C(lookup('template', ...))).
    type: str
  definition:
    description:
      - The state as data (C(threads), C(devices)); written as JSON, which pgstate reads as
        YAML, one key per line so that error locations point at a line.
    type: dict
  mode:
    description: Permissions of O(path) when the module writes it.
    type: raw
    default: '0644'
  executable:
    description: The pgstate binary.
    type: path
  proc_root:
    description: pgstate's C(--proc-root) (default C(/proc/net/pktgen)).
    type: path
  lock_file:
    description: pgstate's C(--lock-file) (default C(/run/pgstate.lock)).
    type: path
  lock_timeout:
    description: How long apply waits for the box lock (pgstate's C(--lock-timeout)), e.g. C(30s).
    type: str
notes:
  - Without O(content) and O(definition), the module converges the state already at O(path).
  - Supports check mode and diff mode.
author:
  - pgstate contributors
"""

EXAMPLES = r"""
- name: Two streams on the lab box
  pgstate:
    path: /etc/pgstate/lab.yaml
    definition:
      devices:
        eth1:
          thread: 0
          count: 0
          pkt_size: 60
          dst: 198.18.0.1
          dst_mac: "02:00:00:00:00:02"

- name: From a template
  pgstate:
    content: "{{ lookup('template', 'pktgen.yaml.j2') }}"
"""

RETURN = r"""
path:
  description: The state file.
  returned: always
  type: str
file_changed:
  description: Whether the state file's content changed (or would, in check mode).
  returned: always
  type: bool
writes:
  description: Writes pgstate made to pktgen (in check mode, the writes it would make).
  returned: success
  type: int
plan:
  description: pgstate's C(plan --json) document (check mode) or C(apply --json) document.
  returned: success
  type: dict
stderr:
  description: pgstate's standard error (notes, warnings, the error).
  returned: always
  type: str
rc:
  description: pgstate's exit status.
  returned: when pgstate ran
  type: int
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

SYMBOL = {"add": "+", "change": "~", "remove": "-", "recreate": "-/+"}


def show_value(change, which):
    """A typed value of a change (plan JSON format_version 2) as plan text shows it."""
    value = change.get(which)
    if value is None:
        return "(hidden)" if which == "old" and change.get("hidden") else "(unset)"
    if isinstance(value, list):
        return ", ".join(" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in value)
    return str(value)


def render_plan(doc):
    """The plan as text for diff mode: one line per device action and field change, then the writes."""
    lines = []
    for act in doc.get("actions") or []:
        head = "%s %s" % (SYMBOL.get(act.get("action"), act.get("action")), act.get("device"))
        if act.get("thread") is not None:
            moved = act.get("from_thread")
            if moved is not None and moved != act.get("thread"):
                head += " (thread %s -> %s)" % (moved, act["thread"])
            else:
                head += " (thread %s)" % act["thread"]
        if act.get("reason"):
            head += ": %s" % act["reason"]
        if act.get("running"):
            head += " [running]"
        lines.append(head)
        for change in act.get("changes") or []:
            lines.append(
                "    %s: %s -> %s"
                % (change.get("field"), show_value(change, "old"), show_value(change, "new"))
            )
    summary = doc.get("summary") or {}
    if not doc.get("changes"):
        lines.append("No changes.")
    else:
        lines.append(
            "Plan: %d to add, %d to change, %d to remove, %d to re-create; %d writes:"
            % tuple(summary.get(k, 0) for k in ("add", "change", "remove", "recreate", "writes"))
        )
        for write in doc.get("writes") or []:
            lines.append("    %s <- %s" % (write.get("file"), write.get("command")))
    return "\n".join(lines) + "\n"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/pgstate/pgstate.yaml"),
            content=dict(type="str"),
            definition=dict(type="dict"),
            mode=dict(type="raw", default="0644"),
            executable=dict(type="path"),
            proc_root=dict(type="path"),
            lock_file=dict(type="path"),
            lock_timeout=dict(type="str"),
        ),
        mutually_exclusive=[("content", "definition")],
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    result = dict(changed=False, path=path, file_changed=False, stderr="")

    pgstate = p["executable"] or module.get_bin_path("pgstate", required=True)
    cmd = [pgstate, "--color", "never"]
    if p["proc_root"]:
        cmd += ["--proc-root", p["proc_root"]]
    if p["lock_file"]:
        cmd += ["--lock-file", p["lock_file"]]

    if p["content"] is not None:
        new_text = p["content"]
    elif p["definition"] is not None:
        new_text = json.dumps(p["definition"], indent=2, sort_keys=False) + "\n"
    else:
        new_text = None

    old_text = None
    if os.path.exists(path):
        with open(path, "rb") as f:
            old_text = to_text(f.read(), errors="surrogate_or_strict")
    elif new_text is None:
        module.fail_json(msg="%s does not exist, and neither content nor definition is given" % path, **result)

    # The state pgstate reads: a hidden temporary file beside PATH when the content changes
    # (pgstate ignores files starting with '.'), PATH itself otherwise.
    tmp = None
    target = path
    if new_text is not None and new_text != old_text:
        result["file_changed"] = True
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            if module.check_mode:
                directory = None  # not created in check mode: plan from a temporary directory
            else:
                os.makedirs(directory, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".pgstate-ansible-", suffix=".yaml", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(to_bytes(new_text, errors="surrogate_or_strict"))
        target = tmp

    def cleanup():
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)

    def located(text):
        # pgstate names the file it read; that is the temporary copy of PATH
        return text.replace(tmp, path) if tmp else text

    if module._diff and new_text is not None:
        result["diff"] = [
            dict(
                before_header=path,
                after_header=path,
                before=old_text or "",
                after=new_text,
            )
        ]

    verb = "plan" if module.check_mode else "apply"
    args = cmd + [verb, "--json"]
    if verb == "apply" and p["lock_timeout"]:
        args += ["--lock-timeout", p["lock_timeout"]]
    rc, out, err = module.run_command(args + ["--", target])
    result["rc"] = rc
    result["stderr"] = located(err)
    if rc != 0:
        cleanup()
        msg = located(err).strip() or "pgstate %s failed with exit status %d" % (verb, rc)
        try:
            result["plan"] = json.loads(out)
        except ValueError:
            pass
        module.fail_json(msg=msg, **result)
    try:
        doc = json.loads(out)
    except ValueError:
        cleanup()
        module.fail_json(msg="pgstate %s --json printed no JSON document: %s" % (verb, out[:500]), **result)
    result["plan"] = doc
    result["writes"] = int((doc.get("summary") or {}).get("writes", 0))

    if module._diff:
        result.setdefault("diff", []).append(dict(prepared=render_plan(doc)))

    if module.check_mode:
        cleanup()
        result["changed"] = bool(doc.get("changes")) or result["file_changed"]
        module.exit_json(**result)

    if tmp:
        existed = old_text is not None
        module.atomic_move(tmp, path)
        if not existed:
            # atomic_move gives a new file the umask's mode (mkstemp's 0600 is gone)
            module.set_mode_if_different(path, p["mode"], False)
    result["changed"] = result["writes"] > 0 or result["file_changed"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
