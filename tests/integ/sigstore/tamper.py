#!/usr/bin/python3
"""Change one byte of one part of a Sigstore bundle (for negative tests):

  tamper.py IN.json OUT.json WHAT [ENTRY]

WHAT:
  sig         the DSSE signature (or the message signature)
  payload     one byte of the DSSE payload (the statement stays JSON: the
              predicate type's last character)
  digest      one byte of messageSignature.messageDigest.digest
  set         the SET (inclusionPromise.signedEntryTimestamp)
  checkpoint  the last byte of the checkpoint's note signature
  roothash    inclusionProof.rootHash
  proofhash   inclusionProof.hashes[0]
  body        the canonicalized body (a character of the signature in it)
  time        integratedTime + 1
ENTRY: which tlogEntries element (default 0).  Prints nothing; exit 2 if the
part is missing.
"""
import base64
import json
import sys


def flip(b, i=-1):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


def b64flip(s, i=-1):
    return base64.b64encode(flip(base64.b64decode(s), i)).decode()


def main(argv):
    src, dst, what = argv[1], argv[2], argv[3]
    n = int(argv[4]) if len(argv) > 4 else 0
    b = json.load(open(src))
    vm = b["verificationMaterial"]
    e = (vm.get("tlogEntries") or [None] * (n + 1))[n]
    if what == "sig":
        if "dsseEnvelope" in b:
            s = b["dsseEnvelope"]["signatures"][0]
            s["sig"] = b64flip(s["sig"], 10)
        else:
            m = b["messageSignature"]
            m["signature"] = b64flip(m["signature"], 10)
    elif what == "payload":
        p = base64.b64decode(b["dsseEnvelope"]["payload"])
        i = p.rindex(b'"predicateType":"') + len(b'"predicateType":"')
        i = p.index(b'"', i) - 1
        b["dsseEnvelope"]["payload"] = base64.b64encode(flip(p, i)).decode()
    elif what == "digest":
        md = b["messageSignature"]["messageDigest"]
        md["digest"] = b64flip(md["digest"], 0)
    elif e is None:
        sys.exit(2)
    elif what == "set":
        ip = e["inclusionPromise"]
        ip["signedEntryTimestamp"] = b64flip(ip["signedEntryTimestamp"], 12)
    elif what == "checkpoint":
        cp = e["inclusionProof"]["checkpoint"]
        note, sigs = cp["envelope"].split("\n\n", 1)
        line, rest = sigs.split("\n", 1)
        head, b64 = line.rsplit(" ", 1)
        cp["envelope"] = note + "\n\n" + head + " " + b64flip(b64) + "\n" + rest
    elif what == "roothash":
        e["inclusionProof"]["rootHash"] = b64flip(e["inclusionProof"]["rootHash"], 0)
    elif what == "proofhash":
        e["inclusionProof"]["hashes"][0] = b64flip(e["inclusionProof"]["hashes"][0], 0)
    elif what == "body":
        body = base64.b64decode(e["canonicalizedBody"]).decode()
        for key in ('"signature":"', '"content":"'):
            if key in body:
                i = body.index(key) + len(key) + 5
                break
        c = body[i]
        body = body[:i] + ("A" if c != "A" else "B") + body[i + 1:]
        e["canonicalizedBody"] = base64.b64encode(body.encode()).decode()
    elif what == "time":
        e["integratedTime"] = str(int(e["integratedTime"]) + 1)
    else:
        sys.exit("unknown part " + what)
    open(dst, "w").write(json.dumps(b, separators=(",", ":")))


if __name__ == "__main__":
    main(sys.argv)
