/*
 * smtpd_store - what testsmtpd does with an accepted message: count and hash it (SHA-256), and with
 * a Maildir, keep it.
 *
 * The promise of a 250 after DATA is that the message will not be lost. With a Maildir, the message is
 * written to tmp/, fsynced, renamed into new/ and the directory fsynced before smtpd_store_end
 * returns 0 (the Maildir protocol, with the fsyncs that make a rename durable); any failure returns a
 * negative errno and the engine answers 451 4.3.0. Without one, a message is counted and hashed only:
 * the hash in the event log lets a test check that what arrived is what was sent.
 *
 * A connection keeps one smtpd_store_msg for its whole life (hash context, file and write buffer), so
 * a message allocates nothing.
 */
#ifndef SMTPD_STORE_H
#define SMTPD_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct smtpd_store smtpd_store;
typedef struct smtpd_store_msg smtpd_store_msg;

/* maildir NULL: hash only. Creates DIR, DIR/tmp, DIR/new and DIR/cur as needed, and removes the
 * files of tmp/ that deliveries killed midway left (this host's, of a process that is gone, or any
 * older than 36 hours). NULL and a message naming the path on error. */
smtpd_store *smtpd_store_create(const char *maildir, char *err, size_t errlen);
/* How many stale tmp/ files smtpd_store_create removed. */
uint64_t smtpd_store_cleaned(const smtpd_store *st);
void smtpd_store_free(smtpd_store *st);
/* Gives the Maildir to uid:gid (testsmtpd started as root, before it drops privileges). */
int smtpd_store_chown(smtpd_store *st, uid_t uid, gid_t gid);
/* Messages stored so far. */
uint64_t smtpd_store_count(const smtpd_store *st);

smtpd_store_msg *smtpd_store_msg_create(smtpd_store *st);
/* Discards a message in progress, if any. */
void smtpd_store_msg_free(smtpd_store_msg *m);
/* Content, in order; the first call of a message starts it. Errors are kept for smtpd_store_end. */
void smtpd_store_write(smtpd_store_msg *m, const char *data, size_t len);
/*
 * Ends the message (possibly empty): the SHA-256 in hex into sha256 (65 bytes), the size written into
 * *size, and with a Maildir the file name in new/ into name (may be NULL). Returns 0 when stored, or a
 * negative errno (nothing is left in tmp/ or new/).
 */
int smtpd_store_end(smtpd_store_msg *m, char sha256[65], uint64_t *size, char *name, size_t namelen);
/* Drops a message in progress (the client went away, or it was refused). */
void smtpd_store_abort(smtpd_store_msg *m);

#endif
