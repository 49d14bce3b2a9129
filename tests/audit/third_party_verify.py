#!/usr/bin/env python3
"""Checks retention's audit log material with third-party code only.

Everything here is verified with aics-tlog (PyPI), an implementation of RFC 6962 /
RFC 9162 Merkle proofs and of C2SP signed notes and checkpoints that shares no code with
retention: checkpoint signatures and origins, entry signatures (one-line signed notes),
tree heads recomputed from the exact lines, inclusion proofs, consistency proofs between
every pair of checkpoints, `audit prove` output and erasure certificates, all in the
formats of docs/audit-proofs.md.

Usage: third_party_verify.py BUNDLE.json
Exit 0 when everything checks out; 1, naming the first failure, otherwise.
"""

import base64
import json
import sys

from aics_tlog import (
    MerkleTree,
    Note,
    SignatureLine,
    leaf_hash,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    verify_checkpoint,
    verify_consistency,
    verify_leaf_inclusion,
    verify_note,
)

PROOF_FORMAT = "retention-audit-proof/v1"
CERTIFICATE_FORMAT = "retention-erasure-certificate/v1"


class Failure(Exception):
    pass


def b64(s):
    return base64.b64decode(s, validate=True)


def check(ok, what):
    if not ok:
        raise Failure(what)


def open_checkpoint(note_text, vkey, origin):
    """A checkpoint signed by vkey for origin: (size, root)."""
    note = parse_note(note_text)
    result = verify_checkpoint(note, vkey, expected_origin=origin)
    check(result.ok, f"checkpoint does not verify: {getattr(result, 'error', '')}")
    cp = parse_checkpoint(note.text)
    check(cp.origin == origin, f"checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp.size, cp.root


def entry_signed(seq, line, sig_b64, vkey, origin):
    """The entry signature: vkey's signed-note signature over the one-line statement,
    which names the log's origin."""
    blob = b64(sig_b64)
    statement = f"retention-audit-entry/v2 {seq} {base64.b64encode(leaf_hash(line)).decode()} {origin}\n"
    note = Note(
        text=statement,
        signatures=(SignatureLine(name=vkey.name, key_id=blob[:4], signature=blob[4:]),),
    )
    return verify_note(note, [vkey])


def check_entry(seq, leaf_index, line, leaf_hash_b64, sig, path, size, root, vkey, origin):
    check(leaf_index == seq - 1, f"entry {seq}: leaf index {leaf_index} is not seq - 1")
    check(json.loads(line)["seq"] == seq, f"entry {seq}: the line says another seq")
    check(b64(leaf_hash_b64) == leaf_hash(line), f"entry {seq}: leaf hash is not H(0x00 || line)")
    if sig is not None:
        check(entry_signed(seq, line, sig, vkey, origin), f"entry {seq}: signature does not verify")
    proof = [b64(h) for h in path]
    check(
        verify_leaf_inclusion(line, leaf_index, size, proof, root),
        f"entry {seq}: not included in the tree of size {size}",
    )


def main(path):
    bundle = json.load(open(path, encoding="utf-8"))
    vkey = parse_vkey(bundle["verifier_key"])
    origin = bundle["origin"]

    heads = {}
    for text in bundle["checkpoints"]:
        size, root = open_checkpoint(text, vkey, origin)
        heads[size] = root
    check(heads, "no checkpoint")

    lines = [e["line"].encode() for e in bundle["entries"]]
    for i, e in enumerate(bundle["entries"]):
        check(entry_signed(i + 1, lines[i], e["sig"], vkey, origin), f"entry {i + 1}: signature does not verify")
    tree = MerkleTree(lines)
    for size, root in heads.items():
        check(tree.root(size) == root, f"the lines do not hash to checkpoint {size}'s root")

    pairs = 0
    for c in bundle["consistency"]:
        m, n = c["from_size"], c["to_size"]
        proof = [b64(h) for h in c["proof"]]
        check(verify_consistency(m, n, heads[m], heads[n], proof), f"checkpoint {m} is not a prefix of {n}")
        pairs += 1
    sizes = sorted(heads)
    check(pairs == len(sizes) * (len(sizes) - 1) // 2, "not every pair of checkpoints was proved")

    for p in bundle["proofs"]:
        check(p["format"] == PROOF_FORMAT, f"proof format {p['format']!r}")
        check(p["origin"] == origin and p["signed"], "proof is not of this log, or unsigned")
        size, root = open_checkpoint(p["checkpoint"], vkey, origin)
        check(size == p["tree_size"], "proof tree_size is not the checkpoint's")
        line = p["line"].encode()
        check_entry(p["seq"], p["leaf_index"], line, p["leaf_hash"], p["entry_signature"],
                    p["inclusion_proof"], size, root, vkey, origin)
        c = p.get("consistency")
        if c is not None:
            m = c["from_size"]
            check(m in heads and b64(c["from_root"]) == heads[m], f"from_root is not checkpoint {m}'s root")
            check(
                verify_consistency(m, size, heads[m], root, [b64(h) for h in c["proof"]]),
                f"proof: checkpoint {m} is not a prefix of {size}",
            )

    for cert in bundle["certificates"]:
        check(cert["format"] == CERTIFICATE_FORMAT, f"certificate format {cert['format']!r}")
        size, root = open_checkpoint(cert["checkpoint"], vkey, origin)
        check(size == cert["tree_size"], "certificate tree_size is not the checkpoint's")
        for e in cert["entries"]:
            check_entry(e["seq"], e["leaf_index"], e["line"].encode(), e["leaf_hash"],
                        e["entry_signature"], e["inclusion_proof"], size, root, vkey, origin)

    print(
        f"third-party check passed: {len(heads)} checkpoints, {len(lines)} entry signatures, "
        f"{pairs} consistency proofs, {len(bundle['proofs'])} proofs, "
        f"{len(bundle['certificates'])} certificates"
    )


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except (Failure, ValueError, KeyError) as e:
        print(f"third-party check FAILED: {e}")
        sys.exit(1)
