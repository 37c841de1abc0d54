/*
 * proxy/cmd/cmd.h: the commands, one file each.  Only `serve` uses the
 * server; the others are built on the registry client.
 */
#ifndef SIGNET_CMD_H
#define SIGNET_CMD_H

#include "proxy/client/client.h"

/* One per command: argv[1] is the command's name; the exit status. */
int	px_cmd_serve(int argc, char **argv);
int	px_cmd_check_config(int argc, char **argv);
int	px_cmd_keygen(int argc, char **argv);
int	px_cmd_sign(int argc, char **argv);
int	px_cmd_verify(int argc, char **argv);
int	px_cmd_verify_blob(int argc, char **argv);
int	px_cmd_copy(int argc, char **argv);
int	px_cmd_gc(int argc, char **argv);

/*
 * master.c: with `workers` above 1, `signet serve` is a master that forks
 * the workers.  A worker runs fn(conf, i, lockdir, ready_fd): i its number,
 * lockdir the directory of the lock files the workers share (removed at
 * the master's exit), ready_fd for px_master_ready (-1 for a worker
 * started again); fn's return is its exit status.  The signals the master
 * handles stay blocked in a worker until px_master_ready.  The master's
 * exit status: 0 when every worker exited after a drain.
 */
typedef int	(*px_worker_fn)(struct conf *, int i, const char *lockdir,
		    int ready_fd);
int	px_master_run(struct conf *, px_worker_fn fn);
/* The worker serves: tell the master, and let signals in. */
void	px_master_ready(int ready_fd);

/*
 * trust.c: the trust a command verifies against, from its flags (--key,
 * --rekor-key, --rekor-url, --rekor-online, --ca-roots,
 * --certificate-identity[-regexp], --certificate-oidc-issuer[-regexp],
 * --threshold, --identity) or from --policy FILE (the repository's rule),
 * with the pull path's meaning.  Paths point into argv.
 */
struct px_cmd_trust {
	const char		*keypaths[CONF_KEYS_MAX];
	int			 nkeypaths;
	const char		*rekorpaths[CONF_KEYS_MAX];
	int			 nrekorpaths;
	const char		*roots, *ident, *ident_re, *issuer, *issuer_re;
	const char		*policy_path, *rekor_url;
	int			 threshold;	/* 0: 1 */
	int			 online;
	int			 identity;	/* -1 unset, 0 any, 1 repository */
	/* loaded */
	struct core_key		*keys[CONF_KEYS_MAX];
	int			 nkeys;
	struct core_key		*rekor[CONF_KEYS_MAX];
	int			 nrekor;
	struct core_keyless	 keyless;
	struct conf		*pconf;
	const struct conf_policy *policy;
};
#define PX_CMD_TRUST_INIT	{ .identity = -1 }
/* argv[*i] when it is a trust flag (its value consumed too): 1; 0 when it
 * is not one; -1 with err for a bad value. */
int	px_cmd_trust_arg(struct px_cmd_trust *, int argc, char **argv, int *i,
	    char *err, size_t errlen);
/* 1 when any signer (or --policy) was named. */
int	px_cmd_trust_given(const struct px_cmd_trust *);
/* Load the keys, roots or policy (the rule for repo); -1 with err. */
int	px_cmd_trust_load(struct px_cmd_trust *, const char *repo, char *err,
	    size_t errlen);
/* The driver's options; *ct and *o borrow from the trust, which must
 * outlive the verification.  want_ref: the docker-reference expected. */
void	px_cmd_trust_vopts(struct px_cmd_trust *, const char *want_ref,
	    struct core_trust *ct, struct core_vopts *o);
const char *px_cmd_trust_rekor_url(const struct px_cmd_trust *);
void	px_cmd_trust_free(struct px_cmd_trust *);

#endif /* SIGNET_CMD_H */
