#!/usr/bin/python3
"""Checks the Kubernetes files in docker/k8s against each other and against
signet's configuration, for t_config.sh (python3-yaml):

  k8s_check.py DIR DOCKERFILE

Every YAML file parses; kustomization.yaml names only files that exist;
the ConfigMap's signet.json is mounted where the image's ENTRYPOINT reads
it; its signing key path is where the Secret's key is mounted, its
password variable comes from that Secret; its state_dir is a mounted
volume; the container port is its listen port and the Service's target;
the preStop sleep and drain_timeout fit in terminationGracePeriodSeconds.
Prints one line per finding ("ok: ..." or "bad: ..."), then the probe
paths as "probe PATH" lines for the caller to ask a running signet; exit 1
on a bad finding.
"""
import json
import os
import re
import sys

import yaml


def load_conf(path):
    # signet's JSON allows whole-line # and // comments
    with open(path) as f:
        text = "".join(ln for ln in f if not re.match(r"\s*(#|//)", ln))
    return json.loads(text)


def main(argv):
    d, dockerfile = argv[1], argv[2]
    bad = 0

    def say(ok, what):
        nonlocal bad
        print(("ok: " if ok else "bad: ") + what)
        bad += 0 if ok else 1

    docs = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".yaml"):
            with open(os.path.join(d, name)) as f:
                docs[name] = list(yaml.safe_load_all(f))
            say(True, "%s parses" % name)
    kust = docs["kustomization.yaml"][0]
    objs = {}
    for r in kust["resources"]:
        say(os.path.exists(os.path.join(d, r)), "resource %s exists" % r)
        for o in docs.get(r, []):
            objs[o["kind"]] = o
    gens = {}
    for g in kust.get("configMapGenerator", []) + kust.get("secretGenerator", []):
        files = {os.path.basename(f.split("=")[-1]): f.split("=")[-1] for f in g.get("files", [])}
        for f in files.values():
            say(os.path.exists(os.path.join(d, f)), "generator %s: file %s exists" % (g["name"], f))
        lits = {lv.split("=", 1)[0] for lv in g.get("literals", [])}
        gens[g["name"]] = (set(files), lits)

    dep, svc = objs["Deployment"], objs["Service"]
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    c = spec["containers"][0]
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = c["volumeMounts"]

    def mounted_file(source_kind, source_name):
        """The paths where the files of a ConfigMap or Secret appear."""
        paths = {}
        for m in mounts:
            v = vols[m["name"]]
            src = v.get(source_kind)
            if not src or src.get("name", src.get("secretName")) != source_name:
                continue
            items = src.get("items")
            if m.get("subPath"):
                paths[m["subPath"]] = m["mountPath"]
            elif items:
                for it in items:
                    paths[it["key"]] = m["mountPath"] + "/" + it["path"]
            else:
                for f in gens[source_name][0]:
                    paths[f] = m["mountPath"] + "/" + f
        return paths

    # the configuration: mounted where the image reads it
    cmname = [g["name"] for g in kust["configMapGenerator"]][0]
    cpaths = mounted_file("configMap", cmname)
    with open(dockerfile) as f:
        ep = re.search(r'ENTRYPOINT \[.*"-c", "([^"]+)"\]', f.read()).group(1)
    say(cpaths.get("signet.json") == ep,
        "signet.json mounted at %s, the image reads %s" % (cpaths.get("signet.json"), ep))
    say("args" not in c and "command" not in c, "the image's ENTRYPOINT is not overridden")
    conf = load_conf(os.path.join(d, "signet.json"))

    # the key: where the Secret puts it, its password from the Secret too
    secname = [g["name"] for g in kust["secretGenerator"]][0]
    kpaths = mounted_file("secret", secname)
    say(conf["signing"]["key"] in kpaths.values(),
        "signing.key %s is the Secret's mounted file (%s)" % (conf["signing"]["key"], kpaths))
    penv = conf["signing"].get("password_env", "COSIGN_PASSWORD")
    env = {e["name"]: e for e in c.get("env", [])}
    ref = env.get(penv, {}).get("valueFrom", {}).get("secretKeyRef", {})
    say(ref.get("name") == secname and ref.get("key") in gens[secname][1],
        "password_env %s comes from the Secret's %s" % (penv, ref.get("key")))

    # state_dir: a volume of its own, writable
    sd = [m for m in mounts if m["mountPath"] == conf["state_dir"]]
    say(len(sd) == 1 and not sd[0].get("readOnly"), "state_dir %s is a writable volume" % conf["state_dir"])

    # ports: listen, container, Service
    lport = int(conf["listen"][0].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    say(lport in ports.values(), "containerPort %s is the listen port %d" % (list(ports.values()), lport))
    for p in svc["spec"]["ports"]:
        t = p["targetPort"]
        say(ports.get(t, t) == lport, "Service targetPort %s reaches %d" % (t, lport))
    sel = svc["spec"]["selector"]
    say(all(pod["metadata"]["labels"].get(k) == v for k, v in sel.items()),
        "the Service selects the pods")
    say(dep["spec"]["selector"]["matchLabels"] == {k: pod["metadata"]["labels"][k]
                                                   for k in dep["spec"]["selector"]["matchLabels"]},
        "the Deployment selects its pods")

    # probes on the listen port; the paths are checked by the caller
    probes = []
    for kind in ("readinessProbe", "livenessProbe"):
        g = c[kind]["httpGet"]
        say(ports.get(g["port"], g["port"]) == lport, "%s on the listen port" % kind)
        probes.append(g["path"])

    # stopping: the preStop sleep and the drain fit in the grace period
    pre = c["lifecycle"]["preStop"]["exec"]["command"]
    sleep = int(pre[1]) if pre[0] == "sleep" else 0
    drain = conf.get("limits", {}).get("drain_timeout", 30)
    grace = spec.get("terminationGracePeriodSeconds", 30)
    say(sleep + drain < grace, "preStop %d s + drain_timeout %d s < terminationGracePeriodSeconds %d"
        % (sleep, drain, grace))
    for p in probes:
        print("probe " + p)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
