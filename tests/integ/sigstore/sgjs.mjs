#!/usr/bin/env node
// sgjs: Sigstore bundles (the cosign v3 layout) made and checked with the
// Sigstore project's own JavaScript libraries (@sigstore/sign, @sigstore/verify,
// @sigstore/bundle, @sigstore/core, @sigstore/protobuf-specs; versions pinned
// in package.json), as an independent second implementation for signet's
// tests.  Bundles are printed to stdout as compact JSON with no final newline
// (the bytes a registry blob would hold); errors go to stderr with exit 1.
//
//   sign-dsse    --key PRIV.pem --digest sha256:HEX [--predicate-type T]
//                [--cert LEAF.pem [--chain CHAIN.pem]] [--rekor URL] [--rekor-v2 URL]
//   sign-message --key PRIV.pem --file FILE
//                [--cert LEAF.pem [--chain CHAIN.pem]] [--rekor URL] [--rekor-v2 URL]
//   verify       --bundle B.json (--key PUB.pem | --cert-root ROOT.pem [--cert-inter INTER.pem])
//                (--digest sha256:HEX | --file FILE)
//                [--rekor-pub REKOR.pem [--rekor-origin NAME]]
//                [--rekor-v2-pub ED.pem --rekor-v2-origin NAME]
//                [--insecure-ignore-tlog] [--identity SAN] [--issuer URL]
//   referrer     --bundle B.json --subject-digest sha256:HEX
//                --subject-media-type MT --subject-size N [--created RFC3339]
//
// What comes from the libraries and what is done here by hand:
//  * signing: DSSEBundleBuilder / MessageSignatureBundleBuilder from
//    @sigstore/sign with a Signer of our own (a key file and node:crypto);
//    Rekor v1 entries come from the library's RekorWitness.
//  * by hand, Rekor v2: @sigstore/sign 4.x (and 5.x) sends a DSSE envelope to
//    Rekor v2 as a dsse 0.0.2 entry, while sigstore-go >= 1.2 (cosign) logs it
//    as a hashedrekord 0.0.2 entry over SHA-256 of the DSSE PAE; and for a
//    plain key it puts the SPKI DER in verifier.x509Certificate with
//    keyDetails fixed to P-256.  RekorV2Witness below builds the
//    CreateEntryRequest itself (publicKey.rawBytes for a key,
//    x509Certificate.rawBytes for a certificate) with the library's protobuf
//    JSON codecs, and posts it to {URL}/api/v2/log/entries.
//  * by hand, bundle shape: cosign leaves the DSSE signature's keyid empty
//    (the library copies the key hint into it), and the library makes every
//    message-signature bundle a v0.2 bundle with an x509CertificateChain; the
//    builders are subclassed so that both kinds are v0.3 with
//    verificationMaterial.certificate, and --chain gives the
//    x509CertificateChain form, which the bundle spec allows up to v0.2 only
//    (so such a bundle says v0.2).
//  * verification: Verifier, toSignedEntity and toTrustMaterial from
//    @sigstore/verify over a TrustedRoot (protobuf-specs) holding the test
//    logs' keys.  @sigstore/verify 3.1.1 (the last line for node 20) checks a
//    hashedrekord 0.0.2 entry of a DSSE bundle against SHA-256 of the payload,
//    not of the PAE; 4.x fixed it (compareSignedDigest).  That fix is applied
//    here to the entity of such an entry, and each tlog entry is verified on
//    its own (all must pass, as in the library).  Checks added here that the
//    library does not make are marked "sgjs:" in the reasons.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const signLib = require('@sigstore/sign');
const verifyLib = require('@sigstore/verify');
const bundleLib = require('@sigstore/bundle');
const core = require('@sigstore/core');
const specs = require('@sigstore/protobuf-specs');
const specsV2 = require('@sigstore/protobuf-specs/rekor/v2');

const BUNDLE_V03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const INTOTO = 'application/vnd.in-toto+json';
const STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
const COSIGN_SIGN_V1 = 'https://sigstore.dev/cosign/sign/v1';

class UsageError extends Error {}

function die(msg) {
  process.stderr.write(`sgjs: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv, flags, bools = []) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (bools.includes(a)) {
      out[a.slice(2)] = true;
    } else if (flags.includes(a)) {
      if (i + 1 >= argv.length) throw new UsageError(`${a} wants a value`);
      out[a.slice(2)] = argv[++i];
    } else {
      throw new UsageError(`unknown argument ${a}`);
    }
  }
  return out;
}

function need(o, ...names) {
  for (const n of names) if (o[n] === undefined) throw new UsageError(`--${n} is required`);
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest();
}

function parseDigest(s) {
  const m = /^sha256:([0-9a-f]{64})$/.exec(s || '');
  if (!m) throw new UsageError(`not a sha256:<64 lowercase hex> digest: ${s}`);
  return m[1];
}

// Every PEM block of a file, as DER buffers.
function pemBlocks(text, type) {
  const re = new RegExp(`-----BEGIN ${type}-----([^-]+)-----END ${type}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

function spkiDER(key) {
  return key.export({ type: 'spki', format: 'der' });
}

// hash for node's crypto.sign and the Rekor v2 keyDetails of a key
function keyAlgorithm(pub) {
  const t = pub.asymmetricKeyType;
  if (t === 'ec' && pub.asymmetricKeyDetails.namedCurve === 'prime256v1') {
    return { hash: 'sha256', details: specs.PublicKeyDetails.PKIX_ECDSA_P256_SHA_256 };
  }
  if (t === 'rsa') {
    const bits = pub.asymmetricKeyDetails.modulusLength;
    const d = { 2048: 'PKIX_RSA_PKCS1V15_2048_SHA256', 3072: 'PKIX_RSA_PKCS1V15_3072_SHA256',
      4096: 'PKIX_RSA_PKCS1V15_4096_SHA256' }[bits];
    if (d) return { hash: 'sha256', details: specs.PublicKeyDetails[d] };
  }
  throw new UsageError(`unsupported signing key (ECDSA P-256 or RSA 2048/3072/4096 wanted): ${t}`);
}

// ---------------------------------------------------------------------------
// signing

// A Signer (the @sigstore/sign interface) over a private key file.
class KeySigner {
  constructor(privPath, certPath) {
    this.priv = crypto.createPrivateKey(fs.readFileSync(privPath));
    this.pub = crypto.createPublicKey(this.priv);
    this.alg = keyAlgorithm(this.pub);
    this.pubPEM = this.pub.export({ type: 'spki', format: 'pem' });
    // cosign's key hint: base64(SHA-256(SPKI DER))
    this.hint = sha256(spkiDER(this.pub)).toString('base64');
    if (certPath) {
      const certs = pemBlocks(fs.readFileSync(certPath, 'utf8'), 'CERTIFICATE');
      if (certs.length === 0) throw new UsageError(`${certPath}: no certificate`);
      const cert = new crypto.X509Certificate(certs[0]);
      if (!Buffer.from(spkiDER(cert.publicKey)).equals(Buffer.from(spkiDER(this.pub)))) {
        throw new UsageError(`${certPath} does not certify the key in the --key file`);
      }
      this.certPEM = cert.toString();
    }
  }

  async sign(data) {
    const signature = crypto.sign(this.alg.hash, data, this.priv);
    if (this.certPEM) {
      return { signature, key: { $case: 'x509Certificate', certificate: this.certPEM } };
    }
    return { signature, key: { $case: 'publicKey', publicKey: this.pubPEM, hint: this.hint } };
  }
}

// --chain: verificationMaterial.x509CertificateChain = leaf then the chain;
// the bundle spec allows that form only up to v0.2.
function applyChain(bundle, chainDERs) {
  if (!chainDERs) return bundle;
  const vm = bundle.verificationMaterial;
  if (vm.content.$case !== 'certificate') throw new UsageError('--chain needs --cert');
  vm.content = {
    $case: 'x509CertificateChain',
    x509CertificateChain: {
      certificates: [vm.content.certificate, ...chainDERs.map((d) => ({ rawBytes: d }))],
    },
  };
  bundle.mediaType = bundleLib.BUNDLE_V02_MEDIA_TYPE;
  return bundle;
}

class CosignDSSEBundleBuilder extends signLib.DSSEBundleBuilder {
  constructor(options, chainDERs) {
    super(options);
    this.chainDERs = chainDERs;
  }

  async package(artifact, signature) {
    const bundle = await super.package(artifact, signature);
    // cosign (sigstore-go) leaves keyid empty; it is not signed anyway
    for (const s of bundle.content.dsseEnvelope.signatures) s.keyid = '';
    return applyChain(bundle, this.chainDERs);
  }
}

class CosignMessageBundleBuilder extends signLib.MessageSignatureBundleBuilder {
  constructor(options, chainDERs) {
    super(options);
    this.chainDERs = chainDERs;
  }

  async package(artifact, signature) {
    const bundle = bundleLib.toMessageSignatureBundle({
      digest: sha256(artifact.data),
      signature: signature.signature,
      certificate: signature.key.$case === 'x509Certificate'
        ? core.pem.toDER(signature.key.certificate) : undefined,
      keyHint: signature.key.$case === 'publicKey' ? signature.key.hint : undefined,
      certificateChain: false,
    });
    return applyChain(bundle, this.chainDERs);
  }
}

// A Witness (the @sigstore/sign interface) for Rekor v2, by hand: see the top.
class RekorV2Witness {
  constructor(baseURL) {
    this.baseURL = baseURL.replace(/\/+$/, '');
  }

  async testify(content, publicKeyPEM) {
    let digest;
    let signature;
    if (content.$case === 'dsseEnvelope') {
      const env = content.dsseEnvelope;
      digest = sha256(core.dsse.preAuthEncoding(env.payloadType, env.payload));
      signature = env.signatures[0].sig;
    } else {
      digest = content.messageSignature.messageDigest.digest;
      signature = content.messageSignature.signature;
    }
    let verifier;
    let pub;
    if (publicKeyPEM.includes('BEGIN CERTIFICATE')) {
      const der = core.pem.toDER(publicKeyPEM);
      pub = new crypto.X509Certificate(der).publicKey;
      verifier = { $case: 'x509Certificate', x509Certificate: { rawBytes: der } };
    } else {
      pub = crypto.createPublicKey(publicKeyPEM);
      verifier = { $case: 'publicKey', publicKey: { rawBytes: spkiDER(pub) } };
    }
    const request = specsV2.CreateEntryRequest.toJSON({
      spec: {
        $case: 'hashedRekordRequestV002',
        hashedRekordRequestV002: {
          digest,
          signature: { content: signature, verifier: { verifier, keyDetails: keyAlgorithm(pub).details } },
        },
      },
    });
    const url = `${this.baseURL}/api/v2/log/entries`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(request),
    });
    const text = await res.text();
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`Rekor v2 ${url}: HTTP ${res.status}: ${text.trim()}`);
    }
    return { tlogEntries: [specs.TransparencyLogEntry.fromJSON(JSON.parse(text))] };
  }
}

function witnesses(o) {
  const w = [];
  if (o.rekor) {
    w.push(new signLib.RekorWitness({
      rekorBaseURL: o.rekor.replace(/\/+$/, ''),
      entryType: 'dsse',
      fetchOnConflict: true,
      retry: { retries: 1, minTimeout: 200, maxTimeout: 500 },
      timeout: 10000,
    }));
  }
  if (o['rekor-v2']) w.push(new RekorV2Witness(o['rekor-v2']));
  return w;
}

function chainOf(o) {
  if (!o.chain) return undefined;
  const ders = pemBlocks(fs.readFileSync(o.chain, 'utf8'), 'CERTIFICATE');
  if (ders.length === 0) throw new UsageError(`${o.chain}: no certificate`);
  return ders;
}

function printBundle(bundle) {
  const json = bundleLib.bundleToJSON(bundle);
  const tvd = json.verificationMaterial.timestampVerificationData;
  if (tvd && !(tvd.rfc3161Timestamps || []).length) {
    delete json.verificationMaterial.timestampVerificationData;
  }
  if (json.verificationMaterial.tlogEntries && !json.verificationMaterial.tlogEntries.length) {
    delete json.verificationMaterial.tlogEntries;
  }
  process.stdout.write(JSON.stringify(json));
}

const SIGN_FLAGS = ['--key', '--cert', '--chain', '--rekor', '--rekor-v2'];

async function signDSSE(argv) {
  const o = parseArgs(argv, [...SIGN_FLAGS, '--digest', '--predicate-type']);
  need(o, 'key', 'digest');
  const hex = parseDigest(o.digest);
  const statement = {
    _type: STATEMENT_V1,
    subject: [{ digest: { sha256: hex } }],
    predicateType: o['predicate-type'] || COSIGN_SIGN_V1,
    predicate: {},
  };
  const builder = new CosignDSSEBundleBuilder(
    { signer: new KeySigner(o.key, o.cert), witnesses: witnesses(o) }, chainOf(o));
  const bundle = await builder.create({ data: Buffer.from(JSON.stringify(statement)), type: INTOTO });
  printBundle(bundle);
}

async function signMessage(argv) {
  const o = parseArgs(argv, [...SIGN_FLAGS, '--file']);
  need(o, 'key', 'file');
  const builder = new CosignMessageBundleBuilder(
    { signer: new KeySigner(o.key, o.cert), witnesses: witnesses(o) }, chainOf(o));
  const bundle = await builder.create({ data: fs.readFileSync(o.file) });
  printBundle(bundle);
}

// ---------------------------------------------------------------------------
// verification

class Rejected extends Error {}

function reject(msg) {
  throw new Rejected(msg);
}

const EPOCH = '1970-01-01T00:00:00Z';

function trustedRoot(o) {
  const tlogs = [];
  if (o['rekor-pub']) {
    const key = crypto.createPublicKey(fs.readFileSync(o['rekor-pub']));
    const der = spkiDER(key);
    tlogs.push({
      // sigstore-js matches a checkpoint's signer name against baseUrl
      baseUrl: `https://${o['rekor-origin'] || 'rekor.test'}`,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        validFor: { start: EPOCH } },
      logId: { keyId: sha256(der).toString('base64') },
    });
  }
  if (o['rekor-v2-pub']) {
    need(o, 'rekor-v2-origin');
    const origin = o['rekor-v2-origin'];
    const key = crypto.createPublicKey(fs.readFileSync(o['rekor-v2-pub']));
    if (key.asymmetricKeyType !== 'ed25519') reject('--rekor-v2-pub is not an Ed25519 key');
    const der = spkiDER(key);
    const raw = der.subarray(der.length - 32);
    // C2SP signed-note key ID of an Ed25519 key: SHA-256(name "\n" 0x01 key);
    // the note carries its first 4 bytes, the log ID is all 32
    const noteKeyId = sha256(Buffer.concat([Buffer.from(`${origin}\n`), Buffer.from([1]), raw]));
    tlogs.push({
      baseUrl: `https://${origin}`,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: der.toString('base64'), keyDetails: 'PKIX_ED25519', validFor: { start: EPOCH } },
      logId: { keyId: noteKeyId.toString('base64') },
      checkpointKeyId: { keyId: noteKeyId.toString('base64') },
    });
  }
  const cas = [];
  if (o['cert-root']) {
    const certs = [];
    if (o['cert-inter']) certs.push(...pemBlocks(fs.readFileSync(o['cert-inter'], 'utf8'), 'CERTIFICATE'));
    certs.push(...pemBlocks(fs.readFileSync(o['cert-root'], 'utf8'), 'CERTIFICATE'));
    if (certs.length === 0) reject('no certificate in --cert-root');
    cas.push({
      subject: { organization: 'signet-test', commonName: 'signet-test' },
      uri: 'https://fulcio.test',
      certChain: { certificates: certs.map((d) => ({ rawBytes: d.toString('base64') })) },
      validFor: { start: EPOCH },
    });
  }
  return specs.TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs, certificateAuthorities: cas, ctlogs: [], timestampAuthorities: [],
  });
}

function keyOfBundle(bundle) {
  const c = bundle.verificationMaterial.content;
  if (c.$case === 'certificate') return new crypto.X509Certificate(c.certificate.rawBytes).publicKey;
  if (c.$case === 'x509CertificateChain') {
    return new crypto.X509Certificate(c.x509CertificateChain.certificates[0].rawBytes).publicKey;
  }
  return undefined;
}

function keyOfPEMorDER(bytes) {
  const text = bytes.toString('latin1');
  if (text.includes('BEGIN CERTIFICATE')) return new crypto.X509Certificate(bytes).publicKey;
  if (text.includes('BEGIN')) return crypto.createPublicKey(bytes);
  try {
    return crypto.createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch {
    return new crypto.X509Certificate(bytes).publicKey;
  }
}

function sameKey(a, b) {
  return Buffer.from(spkiDER(a)).equals(Buffer.from(spkiDER(b)));
}

// sgjs: checks of one tlog entry that @sigstore/verify 3.1.1 does not make
// (sigstore-go makes them): the inclusion proof's rootHash and treeSize are
// the checkpoint's, and the key in the log entry is the key that signed.
function checkEntryExtra(entry, signerKey) {
  const p = entry.inclusionProof;
  if (p && p.checkpoint) {
    const lines = p.checkpoint.envelope.split('\n');
    if (lines.length < 3 || lines[1] !== String(p.treeSize)) {
      reject('sgjs: inclusion proof treeSize differs from its checkpoint');
    }
    if (!Buffer.from(lines[2], 'base64').equals(Buffer.from(p.rootHash))) {
      reject('sgjs: inclusion proof rootHash differs from its checkpoint');
    }
  }
  let body;
  try {
    body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8'));
  } catch {
    reject('sgjs: canonicalizedBody is not JSON');
  }
  const kv = `${entry.kindVersion.kind}/${entry.kindVersion.version}`;
  let logged;
  try {
    if (kv === 'dsse/0.0.1') {
      logged = keyOfPEMorDER(Buffer.from(body.spec.signatures[0].verifier, 'base64'));
    } else if (kv === 'hashedrekord/0.0.1') {
      logged = keyOfPEMorDER(Buffer.from(body.spec.signature.publicKey.content, 'base64'));
    } else if (kv === 'hashedrekord/0.0.2') {
      const v = body.spec.hashedRekordV002.signature.verifier;
      const raw = (v.publicKey || v.x509Certificate).rawBytes;
      logged = keyOfPEMorDER(Buffer.from(raw, 'base64'));
    }
  } catch (e) {
    reject(`sgjs: the key in the ${kv} entry does not parse: ${e.message}`);
  }
  if (logged && signerKey && !sameKey(logged, signerKey)) {
    reject(`sgjs: the ${kv} entry names another key than the one that signed`);
  }
}

// sgjs: the artifact checks cosign makes and @sigstore/verify leaves to its caller
function checkArtifact(bundle, o) {
  const c = bundle.content;
  if (c.$case === 'dsseEnvelope') {
    const env = c.dsseEnvelope;
    if (env.payloadType !== INTOTO) reject(`sgjs: payloadType is ${env.payloadType}, not ${INTOTO}`);
    const want = o.digest ? parseDigest(o.digest) : sha256(fs.readFileSync(o.file)).toString('hex');
    let st;
    try {
      st = JSON.parse(Buffer.from(env.payload).toString('utf8'));
    } catch {
      reject('sgjs: the DSSE payload is not JSON');
    }
    const subjects = Array.isArray(st.subject) ? st.subject : [];
    if (!subjects.some((s) => s && s.digest && s.digest.sha256 === want)) {
      reject(`sgjs: no in-toto subject has sha256 ${want}`);
    }
    return { predicateType: st.predicateType };
  }
  if (!o.file) reject('a messageSignature bundle needs --file');
  const md = c.messageSignature.messageDigest;
  if (!Buffer.from(md.digest).equals(sha256(fs.readFileSync(o.file)))) {
    reject('sgjs: messageDigest is not the SHA-256 of --file');
  }
  return {};
}

// @sigstore/verify 4.x's compareSignedDigest, for 3.1.1: the digest a Rekor v2
// hashedrekord entry of a DSSE envelope records is that of the PAE.
function withPAEDigest(entity, bundle) {
  const env = bundle.content.dsseEnvelope;
  const signed = sha256(core.dsse.preAuthEncoding(env.payloadType, env.payload));
  const content = entity.signature;
  return {
    ...entity,
    signature: {
      compareSignature: (s) => content.compareSignature(s),
      verifySignature: (k) => content.verifySignature(k),
      get signature() { return content.signature; },
      compareDigest: (d) => core.crypto.bufferEqual(Buffer.from(d), signed),
    },
  };
}

function verify(argv) {
  const o = parseArgs(argv, ['--bundle', '--key', '--cert-root', '--cert-inter', '--digest', '--file',
    '--rekor-pub', '--rekor-origin', '--rekor-v2-pub', '--rekor-v2-origin', '--identity', '--issuer'],
  ['--insecure-ignore-tlog']);
  need(o, 'bundle');
  if (!o.key === !o['cert-root']) throw new UsageError('one of --key and --cert-root is required');
  if (!o.digest === !o.file) throw new UsageError('one of --digest and --file is required');
  let bundle;
  try {
    bundle = bundleLib.bundleFromJSON(JSON.parse(fs.readFileSync(o.bundle, 'utf8')));
  } catch (e) {
    reject(`bundle does not parse: ${e.message}${e.fields ? ` (${e.fields.join(', ')})` : ''}`);
  }
  const keyed = Boolean(o.key);
  const vmCase = bundle.verificationMaterial.content.$case;
  if (keyed && vmCase !== 'publicKey') reject('expected key signature, not certificate');
  if (!keyed && vmCase === 'publicKey') reject('expected a certificate, the bundle has a key hint');
  const signerKey = keyed ? crypto.createPublicKey(fs.readFileSync(o.key)) : keyOfBundle(bundle);
  const info = checkArtifact(bundle, o);

  const root = trustedRoot(o);
  // cosign ignores the key hint and uses the key it was given
  const keyFinder = (hint) => {
    if (!keyed) reject(`no key for hint ${hint}`);
    return { publicKey: signerKey, validFor: () => true };
  };
  const trust = verifyLib.toTrustMaterial(root, keyFinder);
  const artifact = o.file ? fs.readFileSync(o.file) : undefined;
  const entries = o['insecure-ignore-tlog'] ? [] : bundle.verificationMaterial.tlogEntries;
  const policy = {};
  if (o.identity) policy.subjectAlternativeName = o.identity;
  if (o.issuer) policy.extensions = { issuer: o.issuer };

  // the timestamps (Rekor v1 integrated times) come from every entry, as in
  // the library; the tlog checks are made one entry at a time
  const whole = verifyLib.toSignedEntity(bundle, artifact);
  const runs = entries.length ? entries.map((e) => [e]) : [[]];
  const done = [];
  let signer;
  for (const list of runs) {
    let entity = { ...whole, tlogEntries: list };
    const e = list[0];
    if (e) {
      checkEntryExtra(e, signerKey);
      if (bundle.content.$case === 'dsseEnvelope' && e.kindVersion.kind === 'hashedrekord'
          && e.kindVersion.version === '0.0.2') {
        entity = withPAEDigest(entity, bundle);
      }
    }
    // with a key, cosign needs no observer timestamp (WithNoObserverTimestamps);
    // a certificate needs one (the Rekor v1 integrated time here: no TSA)
    const verifier = new verifyLib.Verifier(trust, {
      tlogThreshold: e ? 1 : 0,
      ctlogThreshold: 0,
      timestampThreshold: keyed ? 0 : 1,
    });
    try {
      signer = verifier.verify(entity, Object.keys(policy).length ? policy : undefined);
    } catch (err) {
      const where = e ? ` (tlog entry ${e.kindVersion.kind}/${e.kindVersion.version} logIndex ${e.logIndex})` : '';
      reject(`${err.code ? `${err.code}: ` : ''}${err.message}${where}`);
    }
    if (e) done.push({ kind: e.kindVersion.kind, version: e.kindVersion.version, logIndex: e.logIndex });
  }
  if (!o['insecure-ignore-tlog'] && entries.length === 0 && (o['rekor-pub'] || o['rekor-v2-pub'])) {
    reject('the bundle has no tlog entry, and a log key was given');
  }
  const out = {
    verified: true,
    mediaType: bundle.mediaType,
    content: bundle.content.$case,
    tlogEntries: done,
    ...info,
  };
  if (signer && signer.identity) {
    out.identity = { subjectAlternativeName: signer.identity.subjectAlternativeName,
      issuer: signer.identity.extensions && signer.identity.extensions.issuer };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------
// referrer: the OCI 1.1 manifest cosign v3 pushes for a bundle
// (cosign pkg/oci/remote/write.go WriteReferrer; Go encoding/json field order,
// annotation keys sorted as Go sorts map keys).  cosign writes DSSE bundles
// only, so its content annotation is always "dsse-envelope"; for a
// message-signature bundle this writes "message-signature" (the other value
// cosign's specs/BUNDLE_SPEC.md allows) and no predicateType.  The layer is
// the bundle file's bytes exactly as they are.

function referrer(argv) {
  const o = parseArgs(argv, ['--bundle', '--subject-digest', '--subject-media-type', '--subject-size', '--created']);
  need(o, 'bundle', 'subject-digest', 'subject-media-type', 'subject-size');
  parseDigest(o['subject-digest']);
  const size = Number(o['subject-size']);
  if (!Number.isSafeInteger(size) || size < 0) throw new UsageError('--subject-size: not a size');
  const raw = fs.readFileSync(o.bundle);
  const json = JSON.parse(raw.toString('utf8'));
  // cosign writes the v0.3 type, whatever the bundle says (sgbundle.MediaTypeString("0.3"))
  const bundleType = BUNDLE_V03;
  let content = 'dsse-envelope';
  let predicateType;
  if (json.dsseEnvelope) {
    try {
      predicateType = JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString('utf8')).predicateType;
    } catch {
      predicateType = undefined;
    }
  } else {
    content = 'message-signature';
  }
  const created = o.created || new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const annotations = { 'dev.sigstore.bundle.content': content };
  if (predicateType !== undefined) annotations['dev.sigstore.bundle.predicateType'] = predicateType;
  annotations['org.opencontainers.image.created'] = created;
  const empty = Buffer.from('{}');
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.empty.v1+json',
      size: empty.length,
      digest: `sha256:${sha256(empty).toString('hex')}`,
      artifactType: bundleType,
    },
    layers: [{ mediaType: bundleType, size: raw.length, digest: `sha256:${sha256(raw).toString('hex')}` }],
    annotations,
    subject: { mediaType: o['subject-media-type'], size, digest: o['subject-digest'] },
    artifactType: bundleType,
  };
  process.stdout.write(JSON.stringify(manifest));
}

// ---------------------------------------------------------------------------

const COMMANDS = { 'sign-dsse': signDSSE, 'sign-message': signMessage, verify, referrer };

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const fn = COMMANDS[cmd];
  if (!fn) {
    die(`usage: sgjs.mjs ${Object.keys(COMMANDS).join('|')} [options] (see the head of sgjs.mjs)`);
  }
  try {
    await fn(rest);
  } catch (e) {
    if (e instanceof Rejected) die(`invalid: ${e.message}`);
    if (e instanceof UsageError) die(e.message);
    const cause = e.cause ? `: ${e.cause.message || e.cause}` : '';
    die(`${e.code ? `${e.code}: ` : ''}${e.message}${cause}`);
  }
}

main();
