/*
 * test_smtpd_store - message storage: the SHA-256 of known bodies (however they are chunked), a
 * Maildir message appearing in new/ with its exact content and nothing left in tmp/, a discarded
 * message leaving nothing, and an unwritable Maildir refusing the message (so the engine says 451).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testsmtpd/smtpd_store.h"

/* sha256 of "" and of "abc" (FIPS 180-2 example). */
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

typedef struct hash_case {
    const char *chunks[4];
    const char *sha;
    uint64_t size;
} hash_case;

static void test_hash(void **state)
{
    (void)state;
    static const hash_case cases[] = {
        {{NULL}, SHA_EMPTY, 0},
        {{"abc", NULL}, SHA_ABC, 3},
        {{"a", "b", "c", NULL}, SHA_ABC, 3},
        {{"", "ab", "c", NULL}, SHA_ABC, 3},
    };
    char err[256];
    smtpd_store *st = smtpd_store_create(NULL, err, sizeof(err));
    assert_non_null(st);
    smtpd_store_msg *m = smtpd_store_msg_create(st);
    assert_non_null(m);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t k = 0; cases[i].chunks[k]; k++)
            smtpd_store_write(m, cases[i].chunks[k], strlen(cases[i].chunks[k]));
        char sha[65];
        uint64_t size = 99;
        assert_int_equal(smtpd_store_end(m, sha, &size, NULL, 0), 0);
        assert_string_equal(sha, cases[i].sha);
        assert_int_equal(size, cases[i].size);
    }
    /* A discarded message does not leak into the next one. */
    smtpd_store_write(m, "junk", 4);
    smtpd_store_abort(m);
    smtpd_store_write(m, "abc", 3);
    char sha[65];
    uint64_t size;
    assert_int_equal(smtpd_store_end(m, sha, &size, NULL, 0), 0);
    assert_string_equal(sha, SHA_ABC);
    assert_int_equal(smtpd_store_count(st), 5);
    smtpd_store_msg_free(m);
    smtpd_store_free(st);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void rm_maildir(const char *md)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", md);
    assert_int_equal(system(cmd), 0);
}

static void test_maildir(void **state)
{
    (void)state;
    char md[] = "/tmp/tempfail-maildir-XXXXXX";
    assert_non_null(mkdtemp(md));
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/box", md); /* created by the store */
    char err[256];
    smtpd_store *st = smtpd_store_create(sub, err, sizeof(err));
    if (!st)
        fail_msg("%s", err);
    smtpd_store_msg *m = smtpd_store_msg_create(st);

    /* A body larger than the write buffer, in odd chunks. */
    size_t len = 200000;
    char *body = malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (i % 79 == 78) ? '\n' : (char)('a' + i % 26);
    for (size_t off = 0; off < len;) {
        size_t n = off % 7 == 0 ? 777 : 65536;
        if (n > len - off)
            n = len - off;
        smtpd_store_write(m, body + off, n);
        off += n;
    }
    char sha[65], name[256];
    uint64_t size;
    assert_int_equal(smtpd_store_end(m, sha, &size, name, sizeof(name)), 0);
    assert_int_equal(size, len);

    char path[1200];
    snprintf(path, sizeof(path), "%s/new/%s", sub, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *got = malloc(len + 1);
    assert_int_equal(fread(got, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(got, body, len);
    snprintf(path, sizeof(path), "%s/tmp", sub);
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof(path), "%s/cur", sub);
    assert_int_equal(count_files(path), 0);

    /* Same content without a Maildir: same hash. */
    char err2[256];
    smtpd_store *plain = smtpd_store_create(NULL, err2, sizeof(err2));
    smtpd_store_msg *pm = smtpd_store_msg_create(plain);
    smtpd_store_write(pm, body, len);
    char sha2[65];
    assert_int_equal(smtpd_store_end(pm, sha2, &size, NULL, 0), 0);
    assert_string_equal(sha, sha2);
    smtpd_store_msg_free(pm);
    smtpd_store_free(plain);

    /* A message in progress when the connection goes: nothing stays behind. */
    smtpd_store_write(m, "partial", 7);
    smtpd_store_msg_free(m);
    snprintf(path, sizeof(path), "%s/tmp", sub);
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof(path), "%s/new", sub);
    assert_int_equal(count_files(path), 1);

    /* Two messages get two names. */
    m = smtpd_store_msg_create(st);
    char name2[256];
    smtpd_store_write(m, "x\r\n", 3);
    assert_int_equal(smtpd_store_end(m, sha, &size, name2, sizeof(name2)), 0);
    assert_string_not_equal(name, name2);
    assert_int_equal(count_files(path), 2);

    /* tmp/ gone: the message is refused, not lost silently. Root ignores permissions, so remove it. */
    snprintf(path, sizeof(path), "%s/tmp", sub);
    assert_int_equal(rmdir(path), 0);
    smtpd_store_write(m, "y\r\n", 3);
    assert_true(smtpd_store_end(m, sha, &size, NULL, 0) < 0);
    snprintf(path, sizeof(path), "%s/new", sub);
    assert_int_equal(count_files(path), 2);
    assert_int_equal(smtpd_store_count(st), 2);

    smtpd_store_msg_free(m);
    smtpd_store_free(st);
    free(got);
    free(body);
    rm_maildir(md);
}

static void test_create_error(void **state)
{
    (void)state;
    char err[256];
    assert_null(smtpd_store_create("/proc/no/such/maildir", err, sizeof(err)));
    assert_non_null(strstr(err, "/proc/no/such/maildir: cannot create"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_maildir),
        cmocka_unit_test(test_create_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
