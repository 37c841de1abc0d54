#!/usr/bin/python3
"""Decrypt a cosign encrypted private key independently of signet and of
libsodium, for the tests: scrypt from Python's hashlib (OpenSSL), NaCl
secretbox (XSalsa20 + Poly1305) written out here from the NaCl spec.

  cosign_key.py KEYFILE PUBFILE    (password in COSIGN_PASSWORD)

Exits 0 and prints "ok" when the key decrypts, is PKCS#8 for an EC P-256
key, and its public key equals PUBFILE's.
"""
import base64
import hashlib
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

MASK = 0xffffffff


def rotl(v, c):
    return ((v << c) & MASK) | (v >> (32 - c))


def salsa_rounds(x):
    def qr(a, b, c, d):
        x[b] ^= rotl((x[a] + x[d]) & MASK, 7)
        x[c] ^= rotl((x[b] + x[a]) & MASK, 9)
        x[d] ^= rotl((x[c] + x[b]) & MASK, 13)
        x[a] ^= rotl((x[d] + x[c]) & MASK, 18)
    for _ in range(10):
        qr(0, 4, 8, 12); qr(5, 9, 13, 1); qr(10, 14, 2, 6); qr(15, 3, 7, 11)
        qr(0, 1, 2, 3); qr(5, 6, 7, 4); qr(10, 11, 8, 9); qr(15, 12, 13, 14)


SIGMA = struct.unpack("<4I", b"expand 32-byte k")


def setup(key, n16):
    k = struct.unpack("<8I", key)
    n = struct.unpack("<4I", n16)
    return [SIGMA[0], k[0], k[1], k[2], k[3], SIGMA[1], n[0], n[1],
            n[2], n[3], SIGMA[2], k[4], k[5], k[6], k[7], SIGMA[3]]


def hsalsa20(key, nonce16):
    x = setup(key, nonce16)
    salsa_rounds(x)
    return struct.pack("<8I", x[0], x[5], x[10], x[15], x[6], x[7], x[8], x[9])


def salsa20_stream(key, nonce8, length):
    out = b""
    counter = 0
    while len(out) < length:
        x0 = setup(key, nonce8 + struct.pack("<Q", counter))
        x = list(x0)
        salsa_rounds(x)
        out += struct.pack("<16I", *[(a + b) & MASK for a, b in zip(x, x0)])
        counter += 1
    return out[:length]


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0ffffffc0ffffffc0ffffffc0fffffff
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        block = msg[i:i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def secretbox_open(box, nonce, key):
    subkey = hsalsa20(key, nonce[:16])
    stream = salsa20_stream(subkey, nonce[16:], 32 + len(box) - 16)
    tag, ct = box[:16], box[16:]
    if poly1305(stream[:32], ct) != tag:
        raise ValueError("secretbox: authentication failed")
    return bytes(a ^ b for a, b in zip(ct, stream[32:]))


def main(argv):
    text = open(argv[1]).read()
    lines = text.strip().splitlines()
    if lines[0] not in ("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----",
                        "-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----"):
        sys.exit("unexpected PEM type: " + lines[0])
    env = json.loads(base64.b64decode("".join(lines[1:-1])))
    kdf, cipher = env["kdf"], env["cipher"]
    assert kdf["name"] == "scrypt" and cipher["name"] == "nacl/secretbox"
    prm = kdf["params"]
    key = hashlib.scrypt(os.environ.get("COSIGN_PASSWORD", "").encode(),
                         salt=base64.b64decode(kdf["salt"]), n=prm["N"],
                         r=prm["r"], p=prm["p"], dklen=32,
                         maxmem=256 * 1024 * 1024)
    der = secretbox_open(base64.b64decode(env["ciphertext"]),
                         base64.b64decode(cipher["nonce"]), key)
    priv = serialization.load_der_private_key(der, password=None)
    if not isinstance(priv, ec.EllipticCurvePrivateKey) or priv.curve.name != "secp256r1":
        sys.exit("not an EC P-256 key")
    pub = serialization.load_pem_public_key(open(argv[2], "rb").read())
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if priv.public_key().public_bytes(*fmt) != pub.public_bytes(*fmt):
        sys.exit("private key does not match " + argv[2])
    print("ok N=%d r=%d p=%d" % (prm["N"], prm["r"], prm["p"]))


if __name__ == "__main__":
    main(sys.argv)
