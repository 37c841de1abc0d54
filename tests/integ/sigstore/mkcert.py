#!/usr/bin/python3
"""A Fulcio-style signing certificate for sgjs.mjs --cert, from the test CA
that tests/integ/keyless.py makes (this calls keyless.py's own functions and
leaves keyless.py as it is).

  mkcert.py DIR [--identity EMAIL | --uri URI] [--issuer URL]
            [--minutes N] [--rogue]

If DIR has no root.pem yet, keyless.init(DIR) makes the CA (root.pem,
inter.pem, inter.key, and the rogue-* CA that root.pem does not trust).
Then a fresh P-256 key DIR/leaf.key and a leaf certificate DIR/leaf.pem
issued by the intermediate (DIR/rogue-inter.* with --rogue), valid from one
minute ago for N minutes (default 10), with an email (or URI) SAN, the
code-signing EKU and the OIDC issuer extensions 1.3.6.1.4.1.57264.1.1 (raw
string) and .1.8 (DER UTF8String), as Fulcio writes them.  DIR/chain.pem is
the intermediate then the root.  Prints the leaf's path.
"""
import datetime
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import keyless  # noqa: E402  (tests/integ/keyless.py)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID  # noqa: E402


def main(argv):
    d = argv[1]
    opts = {}
    i = 2
    while i < len(argv):
        if argv[i] == "--rogue":
            opts["--rogue"] = True
            i += 1
        else:
            opts[argv[i]] = argv[i + 1]
            i += 2
    if not os.path.exists(os.path.join(d, "root.pem")):
        os.makedirs(d, exist_ok=True)
        keyless.init(d)
    prefix = "rogue-" if "--rogue" in opts else ""
    inter_pem = open(os.path.join(d, prefix + "inter.pem"), "rb").read()
    root_pem = open(os.path.join(d, prefix + "root.pem"), "rb").read()
    inter = x509.load_pem_x509_certificate(inter_pem)
    ik = keyless.load_key(os.path.join(d, prefix + "inter.key"))
    issuer = opts.get("--issuer", "https://token.actions.githubusercontent.com")
    if "--uri" in opts:
        san = x509.UniformResourceIdentifier(opts["--uri"])
    else:
        san = x509.RFC822Name(opts.get("--identity", "ci@example.com"))
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(minutes=1)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(inter.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(t0)
            .not_valid_after(t0 + datetime.timedelta(minutes=int(opts.get("--minutes", "10"))))
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.UnrecognizedExtension(keyless.ISSUER_V1, issuer.encode()), critical=False)
            .add_extension(x509.UnrecognizedExtension(keyless.ISSUER_V2, keyless.der_utf8(issuer)),
                           critical=False)
            .sign(ik, hashes.SHA256()))
    keyless.save_key(os.path.join(d, "leaf.key"), key)
    open(os.path.join(d, "leaf.pem"), "wb").write(leaf.public_bytes(keyless.PEM))
    open(os.path.join(d, "chain.pem"), "wb").write(inter_pem + root_pem)
    print(os.path.join(d, "leaf.pem"))


if __name__ == "__main__":
    main(sys.argv)
